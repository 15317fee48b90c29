package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// member is what the record keeps about one peer.
type member struct {
	Gossip    string    `json:"gossip"`              // host:port of its serf
	RPC       string    `json:"rpc"`                 // host:port of its peer-link listener
	StoppedAt time.Time `json:"stopped_at,omitzero"` // zero while running
}

// record is the persisted member list of this node, under
// <data_dir>/cluster/<node>/members.json. It lists the peers (never self)
// that this node considers members of its cluster.
type record struct {
	path    string
	Cluster string             `json:"cluster"`
	Members map[string]*member `json:"members"`
}

func recordPath(dataDir, node string) string {
	return filepath.Join(dataDir, "cluster", node, "members.json")
}

// loadRecord reads the record; a missing file is an empty record.
func loadRecord(path string) (*record, error) {
	r := &record{path: path, Members: map[string]*member{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return r, nil
	}
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, r); err != nil {
		return &record{path: path, Members: map[string]*member{}}, fmt.Errorf("member record %s is corrupt (%v); starting standalone", path, err)
	}
	if r.Members == nil {
		r.Members = map[string]*member{}
	}
	return r, nil
}

// save writes the record atomically.
func (r *record) save() error {
	if err := os.MkdirAll(filepath.Dir(r.path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	tmp := r.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, r.path)
}

func (r *record) names() []string {
	var s []string
	for n := range r.Members {
		s = append(s, n)
	}
	sort.Strings(s)
	return s
}
