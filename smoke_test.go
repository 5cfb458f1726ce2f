package caddysse

import (
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	tc := startCaddy(t, `http://127.0.0.1:{PORT} {
	sse {
		subscribe_allow **
		publish_allow **
	}
}`)
	s := tc.Subscribe("/?topic=a")
	id := tc.PublishForm("/", "topic", "a", "data", "x\ny")
	ev := s.Next(5 * time.Second)
	if ev.ID != id || ev.Data != "x\ny" {
		t.Fatalf("%+v", ev)
	}
}
