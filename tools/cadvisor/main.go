// Command cadvisor is a small stand-in for cAdvisor's own main program (whose
// Go module, github.com/google/cadvisor/cmd, the module proxy here does not
// serve). It wires cAdvisor's library packages together the way the upstream
// binary does, but serves only /metrics and /healthz: no web UI, REST API,
// storage drivers or profiling.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	"github.com/google/cadvisor/lib/cache/memory"
	"github.com/google/cadvisor/lib/container"
	"github.com/google/cadvisor/lib/manager"
	"github.com/google/cadvisor/lib/metrics"
	info "github.com/google/cadvisor/lib/model"
	"github.com/google/cadvisor/lib/utils/sysfs"
	cadvisorversion "github.com/google/cadvisor/lib/version"
	"github.com/google/cadvisor/utils/oomparser"

	// Container handlers and filesystem plugins. The upstream binary also
	// installs podman, containerd, CRI-O, systemd, devicemapper, btrfs and
	// zfs; this project only monitors Docker.
	_ "github.com/google/cadvisor/container/docker/install"
	_ "github.com/google/cadvisor/lib/fs/overlay/install"
	_ "github.com/google/cadvisor/lib/fs/tmpfs/install"
	_ "github.com/google/cadvisor/lib/fs/vfs/install"
)

// Set at build time with -ldflags "-X main.version=... -X main.revision=...".
var (
	version  = "unknown"
	revision = "unknown"
)

// Flags the upstream main registers itself. The library packages imported
// above register the rest (--housekeeping_interval, --max_housekeeping_interval,
// --docker_only, --docker, --docker_root, ...) on the same flag set.
var (
	listenIP             = flag.String("listen_ip", "", "IP to listen on, defaults to all IPs")
	port                 = flag.Int("port", 8080, "port to listen")
	versionFlag          = flag.Bool("version", false, "print cAdvisor version and exit")
	prometheusEndpoint   = flag.String("prometheus_endpoint", "/metrics", "Endpoint to expose Prometheus metrics on")
	storeContainerLabels = flag.Bool("store_container_labels", true, "convert container labels and environment variables into labels on prometheus metrics for each container. If flag set to false, then only metrics exported are container name, first alias, and image name")
	whitelistedLabels    = flag.String("whitelisted_container_labels", "", "comma separated list of container labels to be converted to labels on prometheus metrics for each container. store_container_labels must be set to false for this to take effect.")
	envMetadataWhiteList = flag.String("env_metadata_whitelist", "", "a comma-separated list of environment variable keys matched with specified prefix that needs to be collected for containers")
	rawCgroupPrefixes    = flag.String("raw_cgroup_prefix_whitelist", "", "A comma-separated list of cgroup path prefix that needs to be collected even when -docker_only is specified")
	storageDuration      = flag.Duration("storage_duration", 2*time.Minute, "How long to keep data stored in memory")

	// Upstream's defaults: everything except these kinds.
	disabledMetrics = container.MetricSet{
		container.MemoryNumaMetrics:              {},
		container.NetworkTcpUsageMetrics:         {},
		container.NetworkUdpUsageMetrics:         {},
		container.NetworkAdvancedTcpUsageMetrics: {},
		container.ProcessSchedulerMetrics:        {},
		container.ProcessMetrics:                 {},
		container.HugetlbUsageMetrics:            {},
		container.ReferencedMemoryMetrics:        {},
		container.CPUTopologyMetrics:             {},
		container.ResctrlMetrics:                 {},
		container.CPUSetMetrics:                  {},
	}
	enabledMetrics = container.MetricSet{}
)

func init() {
	kinds := container.AllMetrics.String()
	flag.Var(&disabledMetrics, "disable_metrics", "comma-separated list of `metrics` to be disabled. Options are "+kinds+".")
	flag.Var(&enabledMetrics, "enable_metrics", "comma-separated list of `metrics` to be enabled. If set, overrides 'disable_metrics'. Options are "+kinds+".")
}

func main() {
	klog.InitFlags(nil)
	defer klog.Flush()
	_ = flag.Set("v", "2") // upstream's default verbosity
	flag.Parse()

	if *versionFlag {
		fmt.Printf("cAdvisor version %s (%s)\n", version, revision)
		return
	}
	// The manager reports these in cadvisor_version_info.
	cadvisorversion.Info["version"] = version
	cadvisorversion.Info["revision"] = revision

	included := container.AllMetrics.Difference(disabledMetrics)
	if len(enabledMetrics) > 0 {
		included = enabledMetrics
	}
	klog.Infof("enabled metrics: %s", included)

	// Both lists are passed unfiltered, as upstream does: the raw handler
	// reads element 0 and an empty flag must arrive as [""], not nil.
	m, err := manager.New(memory.New(*storageDuration, nil), sysfs.NewRealSysFs(), manager.HousekeepingConfigFlags,
		included, strings.Split(*rawCgroupPrefixes, ","), strings.Split(*envMetadataWhiteList, ","), "", 0)
	if err != nil {
		klog.Fatalf("Failed to create a manager: %v", err)
	}
	var started atomic.Bool

	labelsFunc := metrics.DefaultContainerLabels
	if !*storeContainerLabels {
		labels := strings.Split(*whitelistedLabels, ",")
		for i := range labels {
			labels[i] = strings.TrimSpace(labels[i])
		}
		labelsFunc = metrics.BaseContainerLabels(labels)
	}

	// The manager must not be queried before Start returns, which can take
	// a while when Docker is slow: until then every path answers 503.
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	})
	ooms := &oomCounter{Manager: m, byContainer: map[string]uint64{}}
	mux.Handle(*prometheusEndpoint, metricsHandler(ooms, labelsFunc, included))
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !started.Load() {
			http.Error(w, "cAdvisor is starting", http.StatusServiceUnavailable)
			return
		}
		mux.ServeHTTP(w, r)
	})

	server := &http.Server{
		Addr:              net.JoinHostPort(*listenIP, strconv.Itoa(*port)),
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
	}
	listener, err := net.Listen("tcp", server.Addr)
	if err != nil {
		klog.Fatalf("Failed to listen on %s: %v", server.Addr, err)
	}
	go func() {
		if err := server.Serve(listener); !errors.Is(err, http.ErrServerClosed) {
			klog.Fatalf("HTTP server failed: %v", err)
		}
	}()

	if err := m.Start(); err != nil {
		klog.Fatalf("Failed to start manager: %v", err)
	}
	started.Store(true)
	if included.Has(container.OOMMetrics) {
		ooms.watch()
	}
	klog.Infof("Starting cAdvisor version: %s-%s on %s", version, revision, server.Addr)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	klog.Info("Exiting given a signal")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = server.Shutdown(shutdownCtx)
	if err := m.Stop(); err != nil {
		klog.Errorf("Failed to stop container manager: %v", err)
	}
}

// metricsHandler serves the container, machine, Go runtime and process
// collectors from a fresh registry per scrape, as upstream does: the
// container collector's descriptors depend on the labels of the containers
// present at scrape time.
func metricsHandler(m manager.Manager, labelsFunc metrics.ContainerLabelsFunc, included container.MetricSet) http.Handler {
	machine := metrics.NewPrometheusMachineCollector(m, included)
	goRuntime := collectors.NewGoCollector()
	process := collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Only the latest sample of every container, recursively from "/".
		opts := info.RequestOptions{IdType: info.TypeName, Count: 1, Recursive: true}
		if s := r.URL.Query().Get("max_age"); s != "" {
			maxAge, err := time.ParseDuration(s)
			if err != nil {
				http.Error(w, "failed to parse 'max_age' option: "+err.Error(), http.StatusBadRequest)
				return
			}
			opts.MaxAge = &maxAge
		}
		registry := prometheus.NewRegistry()
		registry.MustRegister(
			metrics.NewPrometheusCollector(m, labelsFunc, included, clock.RealClock{}, opts),
			machine, goRuntime, process)
		promhttp.HandlerFor(registry, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
	})
}

// oomCounter counts OOM kills per container from the kernel log and adds
// the counts to the stats the Prometheus collector reads. The library manager
// never counts them (upstream's binary does this too), so without it
// container_oom_events_total would stay 0.
type oomCounter struct {
	manager.Manager
	mu          sync.Mutex
	byContainer map[string]uint64
}

// watch reads /dev/kmsg. It is best effort: without a readable /dev/kmsg
// (an unprivileged container) it only logs a warning.
func (o *oomCounter) watch() {
	parser, err := oomparser.New()
	if err != nil {
		klog.Warningf("Could not read the kernel log, OOM events disabled: %v", err)
		return
	}
	events := make(chan *oomparser.OomInstance, 10)
	go parser.StreamOoms(events)
	go func() {
		for oom := range events {
			o.mu.Lock()
			o.byContainer[oom.ContainerName]++
			o.mu.Unlock()
		}
	}()
}

func (o *oomCounter) GetRequestedContainersInfo(name string, opts info.RequestOptions) (map[string]*info.ContainerInfo, error) {
	infos, err := o.Manager.GetRequestedContainersInfo(name, opts)
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, ci := range infos {
		for _, s := range ci.Stats {
			s.OOMEvents = o.byContainer[ci.Name]
		}
	}
	return infos, err
}
