// Package delivery delivers events to outside subscribers from the outbox:
// messages written in the same transaction as the facts they describe are
// claimed with a lease, sent, and marked delivered, retried with backoff, or
// dead after a number of attempts (an operator can replay dead letters).
// Delivery is at least once.
//
// It is the delivery loop only; the senders (webhook, NATS) and the
// subscription types are in the public package taskersub. It imports
// taskerdriver and taskersub, never the root package.
package delivery
