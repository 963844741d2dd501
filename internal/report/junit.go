package report

import (
	"encoding/xml"
	"fmt"
	"io"
)

// JUnit XML, the shape CI systems read (Jenkins, GitLab, GitHub test
// reporters): one testsuite per judging command, one testcase per
// threshold verdict or diff row, a <failure> with what was observed
// against what was allowed.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
	Output    string        `xml:"system-out,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Text    string `xml:",chardata"`
}

// JUnitCase is one test case of a JUnit report.
type JUnitCase struct {
	Class   string // e.g. "loadrig.threshold", "loadrig.diff"
	Name    string
	Failure string // "" passed
	Output  string // what was measured, shown for passing cases too
}

// VerdictCases turns threshold verdicts into JUnit test cases.
func VerdictCases(vs []Verdict) []JUnitCase {
	out := make([]JUnitCase, 0, len(vs))
	for _, v := range vs {
		name := v.Threshold.Expr
		if v.Scope != "" {
			name += " [" + v.Scope + "]"
		}
		msg := fmt.Sprintf("observed %s, limit %s", observedText(v), limitText(v.Threshold))
		c := JUnitCase{Class: "loadrig.threshold", Name: name, Output: msg}
		if !v.OK {
			c.Failure = msg
		}
		out = append(out, c)
	}
	return out
}

// WriteJUnit writes cases as one JUnit testsuite named suite.
func WriteJUnit(w io.Writer, suite string, cases []JUnitCase) error {
	s := junitSuite{Name: suite, Tests: len(cases)}
	for _, c := range cases {
		jc := junitCase{Name: c.Name, Classname: c.Class, Output: c.Output}
		if c.Failure != "" {
			s.Failures++
			jc.Failure = &junitFailure{Message: c.Failure, Type: c.Class, Text: c.Failure}
		}
		s.Cases = append(s.Cases, jc)
	}
	doc := junitSuites{Name: "loadrig", Tests: s.Tests, Failures: s.Failures, Suites: []junitSuite{s}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
