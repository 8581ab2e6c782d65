// Package ingress publishes CloudEvents received over HTTP to the rooms of
// an events channel (package channels/events), following the CloudEvents
// HTTP protocol binding 1.0: binary mode (ce-* headers, body = data),
// structured mode (application/cloudevents+json) and batch mode
// (application/cloudevents-batch+json).
//
// Mount a Handler on a pattern with a {room} wildcard, with the credentials
// a publisher must show (a Handler configured with none refuses every
// request; Config.Anonymous opens it to everyone):
//
//	mux.Handle("/events/{room}", ingress.New(ingress.Config{Events: svc, Token: token}))
//
// A valid event reaches the room's members exactly as a member's
// "cloudevent" push does: through Service.Broadcast, so with the same
// subscription filters and, in structured and batch mode, the very bytes
// the publisher sent. It lives with the events channel it feeds, not in
// package server, which knows nothing of CloudEvents; and it is the one
// package under channels/ that speaks HTTP: nothing in the channel model
// imports it. It is an ordinary http.Handler a library user can mount next
// to the socket endpoint.
//
// With Config.History, GET {mount}/{room}?after=<id>&limit=N answers the
// room's recent events (the events channel's history, the one a rejoining
// member resumes from) as a CloudEvents JSON batch, behind the same
// credentials as a POST.
package ingress
