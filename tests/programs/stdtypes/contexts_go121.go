//go:build go1.21

package main

import (
	"context"
	"errors"
)

// newerContexts makes the context kinds Go 1.20 and 1.21 added: a cancel
// cause and a context that is never cancelled.
func newerContexts() {
	ctx, cancel := context.WithCancelCause(gCtxValue)
	cancel(errors.New("boom cause"))
	gCtxCause = ctx
	gCtxWithout = context.WithoutCancel(gCtxCancel)
}

func causeOf(ctx context.Context) string {
	if cause := context.Cause(ctx); cause != nil {
		return cause.Error()
	}
	return "nil"
}
