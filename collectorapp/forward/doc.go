// Package forward keeps a collector's link with central (DESIGN.md §3.4):
//
//   - Enrol exchanges a one-time token for a client certificate and pins
//     central's CA; LoadCredentials reads that state back, and Renewer
//     replaces the certificate when a third of its validity is left.
//   - Forwarder sends the sealed batches of an Outbox to central over mTLS
//     on TLS 1.3, oldest first.
//   - Updater fetches signed rule packs and indicator lists and hands each
//     new, verified version to the daemon.
//
// Delivery is at least once. The Forwarder always sends the oldest batch
// still in the Outbox and removes it only on central's 2xx, so a restart, a
// crash or a lost answer leads to a resend that central recognises by the
// batch id and answers with {"duplicate":true}. A 4xx other than 408 and 429
// means central will never take the batch: it is quarantined, not dropped.
// Everything else is retried, with Retry-After or exponential backoff with
// jitter, and no younger batch overtakes it.
//
// A daemon wires it up like this:
//
//	creds, err := forward.LoadCredentials(stateDir)
//	fwd, err := forward.New(buffer, forward.Config{Central: creds.Central(), Credentials: creds})
//	upd, err := forward.NewUpdater(forward.UpdaterConfig{Credentials: creds, PublicKey: key, Apply: swap})
//	go fwd.Run(ctx)
//	go (&forward.Renewer{Credentials: creds}).Run(ctx)
//	go upd.Run(ctx)
package forward
