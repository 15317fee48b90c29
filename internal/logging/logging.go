// Package logging builds the node's zap logger from the log.* keys: console
// and/or a size-rotated file (lumberjack), EMQX level names, and the slog
// bridge that mochi-mqtt logs through.
package logging

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
	"go.uber.org/zap/zapcore"
	"gopkg.in/natefinch/lumberjack.v2"

	"emqxgo/internal/config"
)

// Level maps an EMQX log level name to a zap level. notice is logged as info,
// critical keeps only the most severe records.
func Level(name string) (zapcore.Level, error) {
	switch name {
	case "debug":
		return zapcore.DebugLevel, nil
	case "info", "notice":
		return zapcore.InfoLevel, nil
	case "warning":
		return zapcore.WarnLevel, nil
	case "error":
		return zapcore.ErrorLevel, nil
	case "critical":
		return zapcore.DPanicLevel, nil
	}
	return 0, fmt.Errorf("unknown log level %q", name)
}

// Logger is the node's logger plus what it owns (the rotating file).
type Logger struct {
	*zap.Logger
	file *lumberjack.Logger
	// FilePath is the log file, "" when logging only to the console.
	FilePath string
	// Control changes the levels while the node runs (emqx_ctl log).
	Control *Control
}

// New builds the logger. to is the effective log.to (file, console, both);
// the caller decides it (foreground mode logs to the console unless log.to was set).
func New(c config.Log, to string) (*Logger, error) {
	if _, err := Level(c.Level); err != nil {
		return nil, err
	}
	// The primary level and each handler's start at log.level, as EMQX's
	// (kernel.logger_level is log.level).
	ctl := NewControl(c.Level)
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.TimeKey = "time"
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	encCfg.EncodeLevel = zapcore.CapitalLevelEncoder
	var cores []zapcore.Core
	l := &Logger{Control: ctl}
	if to == "console" || to == "both" {
		cores = append(cores, gatedCore{zapcore.NewCore(zapcore.NewConsoleEncoder(encCfg), zapcore.Lock(os.Stdout),
			ctl.addHandler(HandlerConsole, "console", c.Level))})
	}
	if to == "file" || to == "both" {
		if err := os.MkdirAll(c.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("log.dir: %w", err)
		}
		l.FilePath = filepath.Join(c.Dir, c.File)
		maxMB := int(c.RotationSize / (1 << 20))
		if maxMB < 1 {
			maxMB = 1 // lumberjack rotates in whole megabytes
		}
		l.file = &lumberjack.Logger{Filename: l.FilePath, MaxSize: maxMB, MaxBackups: c.RotationCount}
		cores = append(cores, gatedCore{zapcore.NewCore(zapcore.NewConsoleEncoder(encCfg), zapcore.AddSync(l.file),
			ctl.addHandler(HandlerFile, l.FilePath, c.Level))})
	}
	if len(cores) == 0 {
		return nil, fmt.Errorf("log.to %q: nothing to log to", to)
	}
	l.Logger = zap.New(newLimitCore(zapcore.NewTee(cores...), ctl), zap.ErrorOutput(zapcore.Lock(os.Stderr)))
	return l, nil
}

// Slog returns a slog.Logger writing through z, for mochi-mqtt.
func Slog(z *zap.Logger) *slog.Logger {
	return slog.New(zapslog.NewHandler(z.Core(), zapslog.WithName("mqtt")))
}

// Close flushes and closes the file.
func (l *Logger) Close() {
	_ = l.Sync()
	if l.file != nil {
		_ = l.file.Close()
	}
}
