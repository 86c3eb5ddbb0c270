package plugins

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"

	"github.com/cyberalarm/cyberalarm/detect"
)

// Info describes a plugin's parser. It is detect.ParserInfo with the Sniff
// function replaced by declarative Signatures, since a function cannot
// cross the process boundary: the host turns them into a Sniff.
type Info struct {
	// Name is the parser's unique name, also event.dataset:
	// lower case, digits and underscores, starting with a letter.
	Name string
	// Description is one line for `formats`.
	Description string
	// New returns a fresh Parser; the plugin makes one per stream.
	New func() detect.Parser
	// Tags are the syslog tags (app names) this format is sent under.
	Tags []string
	// Signatures recognise the format's lines for auto-detection: a line
	// is claimed when any one signature matches. Keep them cheap: anchored
	// prefixes and short substrings before regular expressions.
	Signatures []Signature
	// Generic marks a parser whose signatures also claim other formats'
	// lines; see detect.ParserInfo.Generic.
	Generic bool
}

// Signature matches a line's syslog message (the whole line when it has no
// syslog header). Every field that is set must match; at least one must be
// set.
type Signature struct {
	Prefix   string // the message starts with this
	Contains string // the message contains this
	Regexp   string // RE2 syntax, matched anywhere in the message
}

var validName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// validate reports what is wrong with in, without its New, which the host
// side does not have.
func (in *Info) validate() error {
	if !validName.MatchString(in.Name) || in.Name == "auto" {
		return fmt.Errorf("parser name %q: want lower case letters, digits and underscores, starting with a letter, and not \"auto\"", in.Name)
	}
	if len(in.Tags) == 0 && len(in.Signatures) == 0 {
		return fmt.Errorf("parser %s has neither Tags nor Signatures, so auto-detection cannot find it", in.Name)
	}
	for i, s := range in.Signatures {
		if s == (Signature{}) {
			return fmt.Errorf("parser %s: signature %d is empty and would claim every line", in.Name, i+1)
		}
		if s.Regexp != "" {
			if _, err := regexp.Compile(s.Regexp); err != nil {
				return fmt.Errorf("parser %s: signature %d: %v", in.Name, i+1, err)
			}
		}
	}
	return nil
}

// sniff compiles the signatures into a Sniff; nil when there are none.
func sniff(sigs []Signature) (func(*detect.Record) bool, error) {
	if len(sigs) == 0 {
		return nil, nil
	}
	type compiled struct {
		prefix, contains []byte
		re               *regexp.Regexp
	}
	cs := make([]compiled, len(sigs))
	for i, s := range sigs {
		cs[i] = compiled{prefix: []byte(s.Prefix), contains: []byte(s.Contains)}
		if s.Regexp != "" {
			re, err := regexp.Compile(s.Regexp)
			if err != nil {
				return nil, err
			}
			cs[i].re = re
		}
	}
	return func(rec *detect.Record) bool {
		for i := range cs {
			c := &cs[i]
			if bytes.HasPrefix(rec.Msg, c.prefix) &&
				(len(c.contains) == 0 || bytes.Contains(rec.Msg, c.contains)) &&
				(c.re == nil || c.re.Match(rec.Msg)) {
				return true
			}
		}
		return false
	}, nil
}

// ParserInfo returns in as a detect.ParserInfo, its signatures compiled
// into a Sniff, to run the parser in process: in a vendor's own tests, or
// in a build that links it in.
func (in Info) ParserInfo() (detect.ParserInfo, error) {
	if err := in.validate(); err != nil {
		return detect.ParserInfo{}, err
	}
	if in.New == nil {
		return detect.ParserInfo{}, errors.New("parser " + in.Name + " has no New")
	}
	s, err := sniff(in.Signatures)
	if err != nil {
		return detect.ParserInfo{}, err
	}
	return detect.ParserInfo{
		Name: in.Name, Description: in.Description, New: in.New,
		Tags: in.Tags, Sniff: s, Generic: in.Generic,
	}, nil
}
