package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/loadrig/loadrig/internal/cli/cmdutil"
	"github.com/loadrig/loadrig/internal/metrics"
)

// SummarySchema is the schema id of the summary.json `run` and `compare`
// write: schema, profile, variants[].{name, workloads[].{name, runs,
// median}}, thresholds[]. diff and report read its runs: the result files
// of each workload, as paths relative to the summary's directory.
const SummarySchema = "loadrig.summary/v1"

// maxResultFiles bounds how many files one directory argument may expand to.
const maxResultFiles = 100000

// LoadPaths reads result files named by paths: a result file, a directory
// (searched recursively for result files; other JSON files in it, such as a
// summary.json, are skipped), or a summary.json (its runs). Bad input is a
// usage error naming the path. Results without a name are labelled with
// their file name when there are several.
func LoadPaths(paths []string) ([]*metrics.Result, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return nil, cmdutil.FlagErrorf("%s: %v", p, pe.Err)
			}
			return nil, cmdutil.FlagErrorWrap(err)
		}
		if !st.IsDir() {
			fs, err := expandFile(p)
			if err != nil {
				return nil, err
			}
			files = append(files, fs...)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || !strings.HasSuffix(d.Name(), ".json") {
				return nil
			}
			if schemaOf(path) == metrics.Schema {
				found = append(found, path)
				if len(found) > maxResultFiles {
					return fmt.Errorf("more than %d result files", maxResultFiles)
				}
			}
			return nil
		})
		if err != nil {
			return nil, cmdutil.FlagErrorf("%s: %v", p, err)
		}
		if len(found) == 0 {
			return nil, cmdutil.FlagErrorf("%s: no result files (%s) in this directory", p, metrics.Schema)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	return LoadResults(files)
}

// expandFile returns a result file itself, or the runs a summary lists.
func expandFile(p string) ([]string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, cmdutil.FlagErrorf("%s: %v", p, err)
	}
	var head struct {
		Schema string `json:"schema"`
	}
	_ = json.Unmarshal(b, &head)
	if head.Schema != SummarySchema {
		return []string{p}, nil // LoadResults names what is wrong with it
	}
	var s struct {
		Variants []struct {
			Name      string `json:"name"`
			Workloads []struct {
				Name string          `json:"name"`
				Runs json.RawMessage `json:"runs"`
			} `json:"workloads"`
		} `json:"variants"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, cmdutil.FlagErrorf("%s: not a valid %s: %v", p, SummarySchema, err)
	}
	dir := filepath.Dir(p)
	var out []string
	for _, v := range s.Variants {
		for _, w := range v.Workloads {
			var runs []string
			if err := json.Unmarshal(w.Runs, &runs); err != nil {
				return nil, cmdutil.FlagErrorf("%s: variant %q workload %q: runs is not a list of result file paths; point at the directory of the results instead", p, v.Name, w.Name)
			}
			for _, r := range runs {
				if !filepath.IsAbs(r) {
					r = filepath.Join(dir, r)
				}
				out = append(out, r)
			}
		}
	}
	if len(out) == 0 {
		return nil, cmdutil.FlagErrorf("%s: the summary lists no runs", p)
	}
	return out, nil
}

// schemaOf reads the "schema" key of a JSON file ("" when it has none or
// is not JSON). It reads at most 64 MiB.
func schemaOf(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var head struct {
		Schema string `json:"schema"`
	}
	dec := json.NewDecoder(f)
	// The schema key comes first in every loadrig file; decoding the whole
	// object is still bounded by the file.
	if dec.Decode(&head) != nil {
		return ""
	}
	return head.Schema
}
