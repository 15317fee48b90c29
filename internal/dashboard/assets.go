package dashboard

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// The front end: index.html at "/", the rest under "/static/". Built into
// the binary; every node serves the same files.
//
//go:embed assets
var assetFS embed.FS

// asset is one file ready to serve: its bytes, gzipped when that is
// smaller, its type and its entity tag.
type asset struct {
	body, gz []byte
	ctype    string
	etag     string
}

// assets are the files by name (index.html, app.js, ...).
type assets map[string]*asset

// builtIn are the files built in (read once; they cannot fail to read
// unless the build is broken).
var builtIn = func() assets {
	as, err := loadAssets()
	if err != nil {
		panic("dashboard assets: " + err.Error())
	}
	return as
}()

func loadAssets() (assets, error) {
	out := assets{}
	err := fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		a := &asset{body: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		a.ctype = mime.TypeByExtension(path.Ext(p))
		if a.ctype == "" {
			a.ctype = http.DetectContentType(b)
		}
		var z bytes.Buffer
		w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
		_, _ = w.Write(b)
		if w.Close() == nil && z.Len() < len(b) {
			a.gz = z.Bytes()
		}
		out[strings.TrimPrefix(p, "assets/")] = a
		return nil
	})
	return out, err
}

// securityHeaders keep the pages from being framed or sniffed, and their
// scripts to this node's own files.
func securityHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "+
		"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
}

// serve answers with file name: 304 when the client has it (If-None-Match),
// gzipped when the client takes it. Browsers ask again each time (no-cache)
// and mostly get a 304, so a node upgraded serves its new files at once.
func (as assets) serve(w http.ResponseWriter, r *http.Request, name string) {
	a, ok := as[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	securityHeaders(h)
	h.Set("Cache-Control", "no-cache")
	h.Set("Vary", "Accept-Encoding")
	etag := a.etag
	body := a.body
	if a.gz != nil && acceptsGzip(r) {
		etag = strings.TrimSuffix(a.etag, `"`) + `-gz"`
		body = a.gz
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("ETag", etag)
	if matchETag(r.Header.Get("If-None-Match"), etag) {
		h.Del("Content-Encoding")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", a.ctype)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// acceptsGzip tells whether Accept-Encoding takes gzip (not with q=0).
func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
			continue
		}
		q := strings.ReplaceAll(params, " ", "")
		return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
	}
	return false
}

// matchETag tells whether If-None-Match names etag (or is *).
func matchETag(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}
