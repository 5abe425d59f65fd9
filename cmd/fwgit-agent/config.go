package main

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/fwgit/fwgit/agent/agentconfig"
)

// bindSettings registers one flag per setting (--listen, --allowed-ips, …).
func bindSettings(cmd *cobra.Command) {
	for _, k := range agentconfig.Keys() {
		cmd.Flags().String(k.Flag, "", k.Usage+" ("+k.Name+")")
	}
}

// loadConfig reads the env file, the process environment and the flags the
// user set, in that order of precedence. A missing env file is an error
// only when --env-file was given explicitly.
func loadConfig(cmd *cobra.Command, envFile string) (agentconfig.Config, error) {
	src := agentconfig.Sources{FileName: envFile, LookupEnv: os.LookupEnv, Flags: map[string]string{}}
	f, err := os.Open(envFile)
	switch {
	case err == nil:
		defer f.Close()
		src.EnvFile = f
	case errors.Is(err, fs.ErrNotExist) && !cmd.Flags().Changed("env-file"):
	default:
		return agentconfig.Config{}, err
	}
	for _, k := range agentconfig.Keys() {
		if fl := cmd.Flags().Lookup(k.Flag); fl != nil && fl.Changed {
			src.Flags[k.Name] = fl.Value.String()
		}
	}
	return agentconfig.Load(src)
}

// newLogger builds the process's logger from the settings.
func newLogger(cfg agentconfig.Config) *slog.Logger {
	level := new(slog.LevelVar)
	level.Set(cfg.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}
