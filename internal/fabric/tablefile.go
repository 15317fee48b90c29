package fabric

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"sync"
	"time"

	"emqxgo/internal/wire"

	"go.uber.org/zap"
)

// A persisted table (TableOptions.Persist) lives in
// <data_dir>/tables/<name>.tbl, tombstones included:
//
//	file = magic("EMQXTBL\n") version(1) table(str) count(uvarint) entry* crc32(4)
//
// with the entries as in a table batch (tablesync.go) and the CRC-32 (IEEE,
// big-endian) of everything before it. It is written whole to <name>.tbl.tmp,
// synced and renamed over the file, at most every persistDebounce after a
// change and once more when the fabric stops; it is read when the table is
// opened. A file that cannot be read is logged, renamed aside to
// <name>.tbl.corrupt-<unix nanos> and the table starts empty (peers then
// fill it).
const (
	tableFileMagic   = "EMQXTBL\n"
	tableFileVersion = 1
	persistDebounce  = 100 * time.Millisecond
	tablesDir        = "tables"
)

// tableFile writes one table to its file.
type tableFile struct {
	f     *Fabric
	t     *Table
	path  string
	wake  chan struct{}
	start sync.Once // the writer starts with the first change

	mu    sync.Mutex // one save at a time
	saved uint64     // the table's gen last written
}

func (p *tableFile) poke() {
	p.start.Do(func() {
		if p.f.startGoroutine() {
			go p.run()
		}
	})
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// persist loads t's file into t and starts its writer.
func (f *Fabric) persist(t *Table) {
	if f.dataDir == "" {
		f.log.Warn("no data dir: table kept in memory only", zap.String("table", t.name))
		return
	}
	p := &tableFile{f: f, t: t, path: filepath.Join(f.dataDir, tablesDir, t.name+".tbl"), wake: make(chan struct{}, 1)}
	name, es, err := f.tables.readFile(p.path)
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err == nil && name != t.name:
		err = fmt.Errorf("it holds table %q", name)
		fallthrough
	case err != nil:
		aside := fmt.Sprintf("%s.corrupt-%d", p.path, time.Now().UnixNano())
		if rerr := os.Rename(p.path, aside); rerr != nil {
			aside = ""
			f.log.Error("cannot move an unreadable table file aside", zap.String("file", p.path), zap.Error(rerr))
		}
		f.log.Error("table file unreadable; the table starts empty", zap.String("table", t.name),
			zap.String("file", p.path), zap.String("moved_to", aside), zap.Error(err))
	default:
		empty := t.size() == 0
		t.apply(es)
		if empty {
			t.mu.RLock()
			p.saved = t.gen
			t.mu.RUnlock()
		}
	}
	t.wmu.Lock()
	t.file = p
	t.wmu.Unlock()
	t.mu.RLock()
	changed := t.gen != p.saved
	t.mu.RUnlock()
	if changed { // peers' entries came first, or tombstones were dropped
		p.poke()
	}
}

// run writes the table after changes, at most every persistDebounce.
func (p *tableFile) run() {
	f := p.f
	defer f.wg.Done()
	for {
		select {
		case <-p.wake:
		case <-f.stop:
			return
		}
		if err := p.flush(); err != nil {
			f.log.Error("cannot write table file", zap.String("file", p.path), zap.Error(err))
		}
		select {
		case <-time.After(persistDebounce):
		case <-f.stop:
			return
		}
	}
}

// flush writes the table if it changed since the last write.
func (p *tableFile) flush() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.t
	t.mu.RLock()
	gen := t.gen
	if gen == p.saved {
		t.mu.RUnlock()
		return nil
	}
	es := make([]wireEntry, 0, len(t.m))
	for k, e := range t.m {
		es = append(es, wireEntry{key: k, e: e})
	}
	t.mu.RUnlock()
	if err := writeTableFile(p.path, t.name, es); err != nil {
		return err
	}
	p.saved = gen
	return nil
}

func writeTableFile(path, name string, es []wireEntry) error {
	n := 64
	for i := range es {
		n += entrySize(&es[i])
	}
	b := make([]byte, 0, n)
	b = append(b, tableFileMagic...)
	b = append(b, tableFileVersion)
	b = wire.AppendBytes(b, name)
	b = appendEntries(b, es)
	b = binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp := path + ".tmp"
	fh, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = fh.Write(b)
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil { // the rename itself survives a crash
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

var errBadTableFile = errors.New("not a table file, or damaged")

// readFile reads a table file: the table's name and its entries.
func (s *tableSet) readFile(path string) (string, []wireEntry, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	if len(b) < len(tableFileMagic)+1+4 || string(b[:len(tableFileMagic)]) != tableFileMagic {
		return "", nil, errBadTableFile
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return "", nil, fmt.Errorf("%w: checksum mismatch", errBadTableFile)
	}
	r := &wire.Reader{B: body[len(tableFileMagic):]}
	if v := r.Byte(); v != tableFileVersion {
		return "", nil, fmt.Errorf("%w: version %d", errBadTableFile, v)
	}
	name := r.Str()
	es := s.readEntries(r)
	if r.Err != nil || len(r.B) != 0 {
		return "", nil, errBadTableFile
	}
	return name, es, nil
}

// flushTables writes every persisted table that changed (Stop, after the
// goroutines ended).
func (f *Fabric) flushTables() {
	for _, t := range f.tables.all() {
		t.wmu.Lock()
		p := t.file
		t.wmu.Unlock()
		if p == nil {
			continue
		}
		if err := p.flush(); err != nil {
			f.log.Error("cannot write table file", zap.String("file", p.path), zap.Error(err))
		}
	}
}
