package feed_test

import (
	"testing"

	"fleetfeed/feed"
)

func TestHubDropsSlowSubscriber(t *testing.T) {
	h := feed.NewHub()
	slow := h.Subscribe(2)
	fast := h.Subscribe(100)
	defer fast.Close()
	for i := 1; i <= 10; i++ {
		h.Publish(feed.Notice{Kind: feed.NoticeUpdate, Post: &feed.Post{ID: int64(i)}})
		<-fast.C() // the fast reader keeps up
	}
	if !slow.Dropped() {
		t.Fatal("slow subscriber was not dropped")
	}
	n := 0
	for range slow.C() { // closed after what it buffered
		n++
	}
	if got, want := n, 2; got != want {
		t.Fatalf("slow subscriber got %d notices, want %d", got, want)
	}
	if fast.Dropped() {
		t.Fatal("fast subscriber was dropped")
	}
	if got, want := h.Len(), 1; got != want {
		t.Fatalf("hub has %d subscribers, want %d", got, want)
	}
	slow.Close() // closing a dropped subscription is harmless
}

func TestHubClose(t *testing.T) {
	h := feed.NewHub()
	s := h.Subscribe(1)
	s.Close()
	s.Close()
	h.Publish(feed.Notice{Kind: feed.NoticeUpdate, Post: &feed.Post{ID: 1}})
	if _, ok := <-s.C(); ok {
		t.Fatal("closed subscription delivered a notice")
	}
	if s.Dropped() {
		t.Fatal("closed subscription reports dropped")
	}
}
