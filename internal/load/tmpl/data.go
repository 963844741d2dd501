package tmpl

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Data is a table of rows that templates read fields from ({{.Row.name}}).
// It is loaded once before a run and shared read-only by every worker.
type Data struct {
	// Name is where the rows came from (a file path), for error messages.
	Name string
	// Columns are the field names in file order.
	Columns []string
	// Rows hold one value per column; a row that lacked a field holds "".
	Rows [][]string

	index map[string]int
}

// NewData builds a Data from columns and rows, checking that column names
// are unique and non-empty, every row has one value per column and that
// there is at least one row.
func NewData(name string, columns []string, rows [][]string) (*Data, error) {
	if len(columns) == 0 {
		return nil, fmt.Errorf("data %s: no columns", name)
	}
	idx := make(map[string]int, len(columns))
	for i, c := range columns {
		if c == "" {
			return nil, fmt.Errorf("data %s: column %d has an empty name", name, i+1)
		}
		if _, dup := idx[c]; dup {
			return nil, fmt.Errorf("data %s: column %q appears twice", name, c)
		}
		idx[c] = i
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("data %s: no data rows", name)
	}
	for i, r := range rows {
		if len(r) != len(columns) {
			return nil, fmt.Errorf("data %s: row %d has %d values, want %d", name, i+1, len(r), len(columns))
		}
	}
	return &Data{Name: name, Columns: columns, Rows: rows, index: idx}, nil
}

// Column returns the index of the named column.
func (d *Data) Column(name string) (int, bool) {
	i, ok := d.index[name]
	return i, ok
}

// LoadData reads a data file: ".csv" (a header row, then one row per line)
// or ".jsonl"/".ndjson" (one JSON object per line; values are stringified).
func LoadData(path string) (*Data, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("data file %q does not exist", path)
		}
		return nil, fmt.Errorf("data file: %w", err)
	}
	defer f.Close()
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		return ParseCSV(path, f)
	case ".jsonl", ".ndjson":
		return ParseJSONL(path, f)
	default:
		return nil, fmt.Errorf("data file %q: unknown format (use a .csv file with a header row or a .jsonl file of objects)", path)
	}
}

// ParseCSV reads CSV with a header row naming the columns.
func ParseCSV(name string, r io.Reader) (*Data, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = false
	header, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("data %s: empty file (want a header row)", name)
	}
	if err != nil {
		return nil, fmt.Errorf("data %s: %w", name, err)
	}
	cols := make([]string, len(header))
	for i, h := range header {
		cols[i] = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
	}
	var rows [][]string
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("data %s: %w", name, err)
		}
		rows = append(rows, rec)
	}
	return NewData(name, cols, rows)
}

// ParseJSONL reads one JSON object per line (blank lines are skipped).
// Columns are the union of keys in order of first appearance; strings are
// taken as is, numbers keep their JSON text, booleans are "true"/"false",
// null is "" and nested objects or arrays are compact JSON.
func ParseJSONL(name string, r io.Reader) (*Data, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	var cols []string
	idx := map[string]int{}
	var maps []map[string]string
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(b, &obj); err != nil {
			return nil, fmt.Errorf("data %s: line %d: want a JSON object: %v", name, line, err)
		}
		if obj == nil {
			return nil, fmt.Errorf("data %s: line %d: want a JSON object, got null", name, line)
		}
		// Keep the key order of the first line that introduces a key.
		keys := objectKeys(b)
		m := make(map[string]string, len(obj))
		for _, k := range keys {
			if _, ok := idx[k]; !ok {
				idx[k] = len(cols)
				cols = append(cols, k)
			}
		}
		for k, raw := range obj {
			if _, ok := idx[k]; !ok { // keys objectKeys could not see
				idx[k] = len(cols)
				cols = append(cols, k)
			}
			m[k] = stringify(raw)
		}
		maps = append(maps, m)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("data %s: %w", name, err)
	}
	rows := make([][]string, len(maps))
	for i, m := range maps {
		row := make([]string, len(cols))
		for k, v := range m {
			row[idx[k]] = v
		}
		rows[i] = row
	}
	return NewData(name, cols, rows)
}

// objectKeys returns the top-level keys of a JSON object in source order.
func objectKeys(b []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return keys
		}
		k, ok := t.(string)
		if !ok {
			return keys
		}
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return keys
		}
	}
	return keys
}

func stringify(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			return s
		}
	case 'n':
		return ""
	case '{', '[':
		var buf bytes.Buffer
		if err := json.Compact(&buf, raw); err == nil {
			return buf.String()
		}
	}
	return string(raw)
}
