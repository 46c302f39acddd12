package main

import (
	"fmt"
	"log"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/vmware/govmomi/simulator"
)

// serveWSDL serves the vim WSDL and XSD files of dir under /sdk/, where a
// vCenter has them: oslo.vmware (suds) downloads <soap url>/vimService.wsdl
// before its first call, and the simulator serves no WSDL. The files are
// VMware's, fetched at build time from PyPI packages (see build.py), never
// part of this repository.
func serveWSDL(service *simulator.Service, dir string) error {
	if dir == "" {
		log.Print("no -wsdl-dir: /sdk/vimService.wsdl is not served, oslo.vmware cannot connect")
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "vimService.wsdl")); err != nil {
		return fmt.Errorf("-wsdl-dir: %v", err)
	}
	// NewServer keeps a ServeMux it finds and adds the SOAP handlers to it;
	// their exact patterns (/sdk, /sdk/vimService, ...) win over "/sdk/".
	if service.ServeMux == nil {
		service.ServeMux = http.NewServeMux()
	}
	service.ServeMux.HandleFunc("/sdk/", func(w http.ResponseWriter, r *http.Request) {
		name := path.Base(r.URL.Path)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !strings.HasSuffix(name, ".wsdl") && !strings.HasSuffix(name, ".xsd") {
			http.NotFound(w, r)
			return
		}
		// path.Base leaves no directory part, so nothing outside dir is reachable.
		file := filepath.Join(dir, name)
		if _, err := os.Stat(file); err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		http.ServeFile(w, r, file)
	})
	return nil
}
