package main

import (
	"fleetfeed/rpc/broker"
	"fleetfeed/web"
)

// brokerMetrics are the server's broker connection's counters.
func brokerMetrics(c *broker.Conn) web.MetricSource {
	return func() []web.Metric {
		st := c.Stats()
		connected := 0.0
		if st.Connected {
			connected = 1
		}
		return []web.Metric{
			{Name: "fleetfeed_broker_connected", Help: "Whether the server is connected to the STOMP broker.", Type: "gauge",
				Samples: []web.Sample{{Value: connected}}},
			{Name: "fleetfeed_broker_reconnects_total", Help: "Connections to the STOMP broker re-established after they were lost.", Type: "counter",
				Samples: []web.Sample{{Value: float64(st.Reconnects)}}},
			{Name: "fleetfeed_broker_messages_received_total", Help: "Messages received from the STOMP broker.", Type: "counter",
				Samples: []web.Sample{{Value: float64(st.Received)}}},
			{Name: "fleetfeed_broker_messages_sent_total", Help: "Messages sent to the STOMP broker.", Type: "counter",
				Samples: []web.Sample{{Value: float64(st.Sent)}}},
		}
	}
}
