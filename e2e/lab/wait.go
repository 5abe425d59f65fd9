package lab

import (
	"context"
	"time"
)

// Poll calls cond now and then every interval until it reports true
// (nil), returns an error (that error), or ctx ends (ctx's error, with the
// cause when there is one). It is how the lab and its tests wait: on a
// condition, bounded by a context, never for a fixed time.
func Poll(ctx context.Context, every time.Duration, cond func() (bool, error)) error {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-t.C:
		}
	}
}
