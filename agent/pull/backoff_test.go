package pull

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	lo, hi := time.Second, time.Minute
	for _, tc := range []struct {
		n        int
		min, max time.Duration
	}{
		{1, 500 * time.Millisecond, time.Second},
		{2, time.Second, 2 * time.Second},
		{4, 4 * time.Second, 8 * time.Second},
		{7, 30 * time.Second, time.Minute},
		{50, 30 * time.Second, time.Minute},
	} {
		for range 200 {
			if d := backoff(tc.n, lo, hi); d < tc.min || d > tc.max {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", tc.n, d, tc.min, tc.max)
			}
		}
	}
}
