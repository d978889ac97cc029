package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"fleetfeed/cmd/fleetfeed/internal/demo"
	"fleetfeed/feed"
	"fleetfeed/nodes"
	"fleetfeed/rpc"
	"fleetfeed/rpc/agent"
	"fleetfeed/rpc/broker"
	"fleetfeed/translators"
)

// messaging is the server's side of the broker: the embedded broker when
// no external one is named, the server's connection, and the consumers of
// the events and registration queues.
type messaging struct {
	embedded *broker.Embedded
	conn     *broker.Conn
	url      string // the broker URL, with credentials
}

// startMessaging starts the embedded broker (unless cfg.Broker names an
// external one) and connects to it.
func startMessaging(ctx context.Context, cfg ServeConfig, logger *slog.Logger) (*messaging, error) {
	m := &messaging{url: cfg.Broker}
	if m.url == "" {
		e, err := broker.StartEmbedded(broker.EmbeddedConfig{
			Addr:   cfg.StompListen,
			Users:  map[string]string{cfg.StompLogin: cfg.StompPasscode},
			Logger: logger.With("component", "broker"),
		})
		if err != nil {
			return nil, err
		}
		m.embedded = e
		m.url = "stomp://" + url.UserPassword(cfg.StompLogin, cfg.StompPasscode).String() + "@" + e.Addr()
		logger.Info("embedded STOMP broker listening", "addr", e.Addr(), "login", cfg.StompLogin)
	}
	dialCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := broker.Dial(dialCtx, m.url, broker.Options{Logger: logger.With("component", "stomp")})
	if err != nil {
		m.close()
		return nil, fmt.Errorf("connect to the broker: %w", err)
	}
	m.conn = conn
	return m, nil
}

func (m *messaging) close() {
	if m.conn != nil {
		m.conn.Close()
	}
	if m.embedded != nil {
		m.embedded.Close()
	}
}

// consumeEvents feeds the events queue through the same pipeline as HTTP
// ingest. Input a translator refuses is poison: it goes to the failed queue.
func consumeEvents(ctx context.Context, conn rpc.Connector, collective string, p *feed.Pipeline) error {
	return broker.ConsumeEvents(ctx, conn, collective, func(ctx context.Context, source string, body []byte) error {
		evs, err := translators.Translate(translators.Input{Source: source, Body: body})
		if err != nil {
			return broker.Poison(err)
		}
		if _, err := p.Ingest(ctx, evs); err != nil {
			if feed.ErrorCode(err) == feed.EINVALID || feed.ErrorCode(err) == feed.ECONFLICT {
				return broker.Poison(err)
			}
			return err
		}
		return nil
	})
}

// consumeRegistrations keeps node profiles from the agents' registrations.
// With a key ring, a registration must be signed by a key trusted for its
// identity; without one, its own key must verify its signature.
func consumeRegistrations(ctx context.Context, conn rpc.Connector, collective string, store *nodes.Store, ring *rpc.KeyRing, logger *slog.Logger) error {
	sub, err := conn.Subscribe(ctx, rpc.RegistrationDestination(collective), rpc.AckAuto)
	if err != nil {
		return fmt.Errorf("subscribe to registrations: %w", err)
	}
	defer sub.Unsubscribe()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case msg, ok := <-sub.C():
			if !ok {
				return rpc.ErrClosed
			}
			reg, err := verifyRegistration(msg.Body, ring)
			if err != nil {
				logger.Warn("registration dropped", "err", err)
				continue
			}
			if _, err := store.Upsert(ctx, reg.Identity, registrationProfile(reg)); err != nil {
				logger.Warn("registration not applied", "identity", reg.Identity, "err", err)
			}
		}
	}
}

func verifyRegistration(body []byte, ring *rpc.KeyRing) (*rpc.Registration, error) {
	if ring != nil {
		return rpc.VerifyRegistration(body, ring)
	}
	reg, err := rpc.DecodeRegistration(body)
	if err != nil {
		return nil, err
	}
	raw, err := base64.StdEncoding.DecodeString(reg.PublicKey)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("registration carries no usable public key")
	}
	self := rpc.NewKeyRing()
	if err := self.Add(reg.PubKey, ed25519.PublicKey(raw), "*"); err != nil {
		return nil, err
	}
	return rpc.VerifyRegistration(body, self)
}

// registrationProfile is what a registration tells about a node's profile.
func registrationProfile(reg *rpc.Registration) nodes.Profile {
	seen := reg.Sent()
	if now := time.Now(); seen.After(now) {
		seen = now
	}
	p := nodes.Profile{
		Classes: reg.Classes,
		Facts:   reg.Facts,
		Agents:  reg.Agents,
		Seen:    &seen,
	}
	if reg.FQDN != "" {
		fqdn := reg.FQDN
		p.DisplayName = &fqdn
		p.Aliases = append(p.Aliases, fqdn)
	}
	p.Aliases = append(p.Aliases, reg.MACs...)
	if l := reg.Location; l != nil && (l.Datacenter != "" || l.Latitude != nil) {
		p.Location = &nodes.Location{Datacenter: l.Datacenter, Latitude: l.Latitude, Longitude: l.Longitude}
		if (p.Location.Latitude == nil) != (p.Location.Longitude == nil) {
			p.Location.Latitude, p.Location.Longitude = nil, nil
		}
	}
	return p
}

// startDemoAgents runs the demo fleet as real agents on the broker, so
// that RPC works against it. They trust the given ring, and call
// onPuppetRun (if not nil) when they start a Puppet run.
func startDemoAgents(ctx context.Context, fleet []demo.Server, m *messaging, collective string, ring *rpc.KeyRing, onPuppetRun func(identity string, noop bool), logger *slog.Logger) (*agent.Sim, error) {
	conn, err := broker.Dial(ctx, m.url, broker.Options{Logger: logger.With("component", "demo-agents")})
	if err != nil {
		return nil, fmt.Errorf("demo agents: %w", err)
	}
	sim, err := agent.NewSim(agent.SimConfig{
		Count:      len(fleet),
		Collective: collective,
		Identity:   func(i int) string { return fleet[i].Name },
		Facts: func(i int, _ string) (map[string]any, []string) {
			return fleet[i].Facts, fleet[i].Classes
		},
		KeyName:              "demo-fleet",
		Keys:                 ring,
		Policy:               rpc.Policy{Default: rpc.Allow},
		RegistrationInterval: 5 * time.Minute,
		RegistrationSplay:    5 * time.Second,
		OnPuppetRun:          onPuppetRun,
	}, []rpc.Connector{conn}, logger.With("component", "demo-agents"))
	if err != nil {
		conn.Close()
		return nil, err
	}
	go func() {
		defer conn.Close()
		if err := sim.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
			logger.Warn("demo agents stopped", "err", err)
		}
	}()
	return sim, nil
}

// collectiveOK checks a collective name the way the protocol does.
func collectiveOK(c string) error {
	if err := rpc.CheckName(c); err != nil || strings.ContainsAny(c, "/*") {
		return fmt.Errorf("--collective %q: %v", c, err)
	}
	return nil
}
