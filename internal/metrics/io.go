package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// Decode reads one result file. It rejects anything whose schema is not
// loadrig.result/v1, naming what it found, so an old or foreign file fails
// with a clear line instead of rendering zeros.
func Decode(r io.Reader) (*Result, error) {
	var res Result
	dec := json.NewDecoder(r)
	if err := dec.Decode(&res); err != nil {
		return nil, fmt.Errorf("not a loadrig result file: %w", err)
	}
	if res.Schema != Schema {
		if res.Schema == "" {
			return nil, fmt.Errorf("not a loadrig result file: no \"schema\" key (want %q)", Schema)
		}
		return nil, fmt.Errorf("unsupported result schema %q (this loadrig reads %q)", res.Schema, Schema)
	}
	res.canonical()
	return &res, nil
}

// canonical folds the empty forms of the optional (omitempty) sections into
// their absent form, so a decoded result is the same value as the one its
// own re-encoding decodes to: "server": {} and no "server" key mean the same.
func (r *Result) canonical() {
	if len(r.Server) == 0 {
		r.Server = nil
	}
	if len(r.Phases) == 0 {
		r.Phases = nil
	}
	if len(r.Inputs) == 0 {
		r.Inputs = nil
	}
	if m := r.Messages; m != nil && len(m.ErrorsByKind) == 0 {
		m.ErrorsByKind = nil
	}
	if c := r.Connections.ClosedByCode; c != nil && len(*c) == 0 {
		r.Connections.ClosedByCode = nil
	}
}

// Load reads the result file at path; errors name the path.
func Load(path string) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	res, err := Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return res, nil
}

// Write writes r as indented JSON followed by a newline. HTML characters are
// not escaped, so a target URL with a query string stays readable.
func (r *Result) Write(w io.Writer) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}
