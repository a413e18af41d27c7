// Command ferretdb-embedded runs FerretDB v1 with its pure-Go SQLite backend as a MongoDB-compatible server
// for the test harness (packages/testkit/src/infra/ferretdb.ts).
//
// Why not `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`: that binary panics at start
// because build/version/version.txt is generated and not part of the module (FerretDB issue #2982). The
// embeddable package skips that check when FerretDB is not the main module, so this wrapper works.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	"github.com/FerretDB/FerretDB/build/version"
	"github.com/FerretDB/FerretDB/ferretdb"
)

const ferretModule = "github.com/FerretDB/FerretDB"

// ferretVersion reads the required FerretDB version from the binary's build info, so that the pin lives
// only in go.mod.
func ferretVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path == ferretModule {
			return dep.Version
		}
	}
	return "unknown"
}

func main() {
	listenAddr := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	stateDir := flag.String("state-dir", "", "directory holding the SQLite databases (created if missing)")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	printVersion := flag.Bool("version", false, "print the FerretDB version and exit")
	flag.Parse()

	v := ferretVersion()
	// The embedded package reports "unknown" otherwise; clients and logs should see the real version.
	version.Get().Version = v

	if *printVersion {
		fmt.Println(v)
		return
	}

	if err := run(*listenAddr, *stateDir, *logLevel); err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb-embedded:", err)
		os.Exit(1)
	}
}

func run(listenAddr, stateDir, logLevel string) error {
	if stateDir == "" {
		return errors.New("-state-dir is required")
	}
	dir, err := filepath.Abs(stateDir)
	if err != nil {
		return err
	}
	if err = os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	var level slog.Level
	if err = level.UnmarshalText([]byte(logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	f, err := ferretdb.New(&ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: listenAddr},
		Logger:   logger,
		Handler:  "sqlite",
		// FerretDB wants a file: URI naming an existing directory, with the trailing slash.
		SQLiteURL: "file:" + dir + "/",
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	go func() {
		<-ctx.Done()
		logger.Info("shutting down")
	}()

	logger.Info("listening", slog.String("addr", listenAddr), slog.String("version", version.Get().Version))
	return f.Run(ctx)
}
