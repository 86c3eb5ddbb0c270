package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
)

// SaveState stores data under name, replacing what was there: the state
// of shared work, for the node that takes its lease next.
func (s *Store) SaveState(ctx context.Context, name string, data []byte) error {
	return s.write(ctx, "save state "+name, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO shared_state (name, data, updated) VALUES ($1, $2, now())
			ON CONFLICT (name) DO UPDATE SET data = excluded.data, updated = excluded.updated`, name, data)
		return err
	})
}

// LoadState returns what SaveState stored under name, or nil if nothing.
func (s *Store) LoadState(ctx context.Context, name string) ([]byte, error) {
	var data []byte
	err := s.with(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, "SELECT data FROM shared_state WHERE name = $1", name).Scan(&data)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return data, s.wrap("load state "+name, err)
}
