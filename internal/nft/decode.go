package nft

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Decode parses the JSON form of a [Ruleset] strictly (unknown fields and
// trailing data are errors) and then runs [Ruleset.Validate]. The caller
// bounds the size of data. A decoding error wraps the encoding/json error;
// a validation error is a [*ValidationError].
func Decode(data []byte) (*Ruleset, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Ruleset
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("nft: decoding ruleset: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("nft: decoding ruleset: data after the document")
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}
