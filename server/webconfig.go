package server

import (
	"fmt"
	"os"

	"github.com/prometheus/exporter-toolkit/web"
	"go.yaml.in/yaml/v2"
)

// WebSettings says what a web configuration file turns on, for whoever
// must talk to the server (the healthcheck and status subcommands) or tell
// a person how it serves.
type WebSettings struct {
	TLS         bool // tls_server_config is set: the server speaks HTTPS only
	BasicAuth   bool // basic_auth_users is set: every path asks for a user, health endpoints too
	ClientCerts bool // client_auth_type asks for a client certificate
}

// ReadWebSettings reads a web configuration file. An empty path is plain
// HTTP with no authentication. It does not validate the file (config.Load
// does, with the toolkit): it only reads what is turned on.
func ReadWebSettings(path string) (WebSettings, error) {
	if path == "" {
		return WebSettings{}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return WebSettings{}, err
	}
	var c web.Config
	if err := yaml.Unmarshal(b, &c); err != nil {
		return WebSettings{}, fmt.Errorf("%s: %w", path, err)
	}
	auth := c.TLSConfig.ClientAuth
	return WebSettings{
		TLS:         c.TLSConfig.IsEnabled(),
		BasicAuth:   len(c.Users) > 0,
		ClientCerts: auth != "" && auth != "NoClientCert",
	}, nil
}
