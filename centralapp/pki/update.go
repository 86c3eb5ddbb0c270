package pki

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"

	"github.com/cyberalarm/cyberalarm/detect/update"
)

// updateKey is the ed25519 key that signs rule packs and indicator lists.
// It is kept apart from the CA key so that each can be replaced alone.
type updateKey struct {
	priv ed25519.PrivateKey
}

func (u *updateKey) loadOrCreate(path string) error {
	key, err := loadOrCreateKey(path, func() (crypto.Signer, error) {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	})
	if err != nil {
		return err
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return fmt.Errorf("%s: want an ed25519 key, have %T", path, key)
	}
	u.priv = priv
	return nil
}

// UpdateSigner returns the ed25519 key that signs updates.
func (c *CA) UpdateSigner() ed25519.PrivateKey { return c.update.priv }

// UpdatePublicKey returns the public half of the update-signing key, which
// central hands to collectors at enrolment (update_key).
func (c *CA) UpdatePublicKey() ed25519.PublicKey {
	return c.update.priv.Public().(ed25519.PublicKey)
}

// SignUpdate signs payload as release version of kind (update.KindRules or
// update.KindIndicators), stamped with the CA's clock.
func (c *CA) SignUpdate(kind string, version int64, payload []byte) (update.Signed, error) {
	return update.SignAt(c.update.priv, kind, version, payload, c.now())
}
