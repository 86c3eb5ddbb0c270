package plugins

import (
	"context"
	"errors"
	"fmt"

	"github.com/cyberalarm/cyberalarm/parsers"
)

// Set is the plugins that a config lists, started.
type Set struct {
	plugins []*Plugin
}

// StartAll starts every plugin in specs. When one fails, those started are
// closed and the error names the plugin.
func StartAll(ctx context.Context, specs []Spec, opts Options) (*Set, error) {
	s := &Set{}
	for _, sp := range specs {
		p, err := Start(ctx, sp, opts)
		if err != nil {
			s.Close()
			if sp.File != "" {
				return nil, fmt.Errorf("%s:%d:%d: %w", sp.File, sp.Line, sp.Column, err)
			}
			return nil, err
		}
		s.plugins = append(s.plugins, p)
	}
	return s, nil
}

// Register adds every plugin's parser to reg, after the parsers already
// there, so built-in signatures are tried first in auto-detection. A name
// already taken is an error.
func (s *Set) Register(reg *parsers.Registry) error {
	seen := make(map[string]bool)
	for _, p := range s.plugins {
		if _, dup := reg.Lookup(p.Name()); dup || seen[p.Name()] {
			return fmt.Errorf("plugin %s: a parser of that name is already registered; rename the plugin", p.Name())
		}
		seen[p.Name()] = true
	}
	for _, p := range s.plugins {
		reg.Register(p.Info())
	}
	return nil
}

// Lookup returns the plugin whose parser is named name.
func (s *Set) Lookup(name string) (*Plugin, bool) {
	for _, p := range s.plugins {
		if p.Name() == name {
			return p, true
		}
	}
	return nil, false
}

// Plugins returns the started plugins, in config order.
func (s *Set) Plugins() []*Plugin { return append([]*Plugin(nil), s.plugins...) }

// Close stops every plugin.
func (s *Set) Close() error {
	var errs []error
	for _, p := range s.plugins {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}
