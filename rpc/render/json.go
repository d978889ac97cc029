package render

import (
	"encoding/json"
	"io"
	"time"

	"fleetfeed/rpc"
)

// The JSON output of a call (-j) is one object:
//
//	{
//	  "agent": "puppet", "action": "status",
//	  "requestid": "9f1c…",
//	  "replies": [                         every reply, sorted by sender
//	    {"sender": "web1", "statuscode": 0, "statusmsg": "OK",
//	     "data": {…}, "time": "2026-01-02T03:04:05.678Z", "elapsed_ms": 12.5}
//	  ],
//	  "summaries": [ {"function": "summary", "output": "status", "display_as": "Status",
//	                  "counts": [{"value": "idling", "count": 47}, …]}, … ],
//	  "stats": {…}                         see JSONStats
//	}
//
// Members are only ever added, never renamed or removed; "replies",
// "summaries" and the lists in "stats" are arrays, never null. Another
// command reads it back as its node list (replies[].sender).
//
// --jsonl writes one object per line as the call goes: first
// {"kind": "discovery", "method": …, "discovered": […]}, then one
// {"kind": "reply", …} per reply (the members of a reply above), then
// {"kind": "summaries", "summaries": […]} and {"kind": "stats", …}.

// JSONResult is the -j output of a call.
type JSONResult struct {
	Agent     string        `json:"agent"`
	Action    string        `json:"action"`
	RequestID string        `json:"requestid"`
	Replies   []JSONReply   `json:"replies"`
	Summaries []rpc.Summary `json:"summaries"`
	Stats     JSONStats     `json:"stats"`
}

// JSONReply is one reply in JSON output.
type JSONReply struct {
	Kind       string         `json:"kind,omitempty"` // "reply" in --jsonl only
	Sender     string         `json:"sender"`
	StatusCode int            `json:"statuscode"`
	StatusMsg  string         `json:"statusmsg"`
	Data       map[string]any `json:"data"`
	Time       string         `json:"time"`
	ElapsedMS  float64        `json:"elapsed_ms"`
}

// JSONStats are a call's statistics in JSON output; times are in
// milliseconds, the start time in RFC 3339.
type JSONStats struct {
	Kind            string   `json:"kind,omitempty"` // "stats" in --jsonl only
	RequestID       string   `json:"requestid"`
	DiscoveryMethod string   `json:"discovery_method"`
	Discovered      int      `json:"discovered"`
	Targets         int      `json:"targets"`
	Responses       int      `json:"responses"`
	OK              int      `json:"ok"`
	Failed          int      `json:"failed"`
	NoResponses     []string `json:"no_responses"`
	Unexpected      []string `json:"unexpected_responses"`
	NotSent         []string `json:"not_sent"`
	Batches         int      `json:"batches"`
	BatchesRun      int      `json:"batches_run"`
	Cancelled       bool     `json:"cancelled"`
	StartTime       string   `json:"start_time"`
	DiscoveryMS     float64  `json:"discovery_ms"`
	PublishMS       float64  `json:"publish_ms"`
	RequestMS       float64  `json:"request_ms"`
	TotalMS         float64  `json:"total_ms"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func strs(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// NewJSONReply converts a reply.
func NewJSONReply(r rpc.Received) JSONReply {
	data := r.Data
	if data == nil {
		data = map[string]any{}
	}
	return JSONReply{
		Sender: r.SenderID, StatusCode: int(r.StatusCode), StatusMsg: r.StatusMsg, Data: data,
		Time: r.At.UTC().Format(time.RFC3339Nano), ElapsedMS: ms(r.Elapsed),
	}
}

// NewJSONStats converts statistics.
func NewJSONStats(st *rpc.Stats) JSONStats {
	return JSONStats{
		RequestID: st.RequestID, DiscoveryMethod: st.Method, Discovered: len(st.Discovered), Targets: len(st.Targets),
		Responses: st.Responded, OK: st.OK, Failed: st.Failed,
		NoResponses: strs(st.NoResponse), Unexpected: strs(st.Unexpected), NotSent: strs(st.NotSent),
		Batches: st.Batches, BatchesRun: st.BatchesRun, Cancelled: st.Cancelled,
		StartTime: st.Start.UTC().Format(time.RFC3339Nano), DiscoveryMS: ms(st.DiscoveryTime),
		PublishMS: ms(st.PublishTime), RequestMS: ms(st.RequestTime), TotalMS: ms(st.TotalTime),
	}
}

// NewJSONResult converts a call's result and summaries.
func NewJSONResult(res *rpc.Result, sums []rpc.Summary) JSONResult {
	out := JSONResult{
		Agent: res.Agent, Action: res.Action, RequestID: res.Stats.RequestID,
		Replies: make([]JSONReply, 0, len(res.Replies)), Summaries: sums, Stats: NewJSONStats(&res.Stats),
	}
	if out.Summaries == nil {
		out.Summaries = []rpc.Summary{}
	}
	for _, r := range res.Replies {
		out.Replies = append(out.Replies, NewJSONReply(r))
	}
	return out
}

// JSON writes v as indented JSON and a newline.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// JSONLine writes v as one line of JSON.
func JSONLine(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}
