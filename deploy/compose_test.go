package deploy

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// No Docker engine runs where the tests run, so these tests read the production shape as data
// and hold it to the code: the names it sets are the names partnerflow reads, the ports it
// publishes are the ports the processes listen on, the image runs the binary.

const repoRoot = ".."

// ourServices run partnerflow's own image, with the command each must run.
var ourServices = map[string]string{"api": "api", "worker": "worker", "migrate": "migrate", "sim": "sim"}

// requiredByProductionCommands are the variables without which `api` and `worker` refuse to run
// or silently talk to the wrong place.
var requiredByProductionCommands = []string{
	"DATABASE_URL",
	"TEMPORAL_ADDRESS",
	"PARTNERFLOW_CODEC_KEY",
	"PARTNERCENTER_URL",
	"GRAPH_URL",
}

// envScanDirs hold the code that reads partnerflow's environment: package config alone
// (TestOnlyConfigReadsTheEnvironment keeps every other package away from it).
var envScanDirs = []string{"config"}

type composeFile struct {
	Services map[string]service `yaml:"services"`
}

type service struct {
	Image       string               `yaml:"image"`
	Build       yaml.Node            `yaml:"build"`
	Command     []string             `yaml:"command"`
	Environment map[string]string    `yaml:"environment"`
	Ports       []string             `yaml:"ports"`
	Volumes     []string             `yaml:"volumes"`
	DependsOn   map[string]dependsOn `yaml:"depends_on"`
}

type dependsOn struct {
	Condition string `yaml:"condition"`
}

// project is the production shape as the rules see it.
type project struct {
	compose    composeFile
	dockerfile string
	initSQL    string
	goMod      string
	readme     string
	envRead    map[string]bool // every environment name the code reads
}

type rule struct {
	name  string
	check func(p project) error
}

var rules = []rule{
	{"every service of the production shape exists", checkServicesExist},
	{"api, worker, migrate and sim run the image built from the Dockerfile with their own command", checkOurImage},
	{"every environment name given to api, worker, migrate and sim is one the code reads", checkEnvNamesAreRead},
	{"README's Configuration table documents exactly the environment names the code reads", checkReadmeDocumentsEnv},
	{"api and worker get every variable the production commands require", checkRequiredEnv},
	{"listen addresses bind every interface and their ports are the published ones", checkPorts},
	{
		"the Web UI is published on 8233 and its codec endpoint is the api's published port and /codec",
		checkCodecEndpoint,
	},
	{
		"temporal, its Web UI, the simulator, the mail catcher and the worker's metrics " +
			"are published on loopback only",
		checkLoopbackOnly,
	},
	{"the api's public URL and the origins allowed to call the codec are the published ones", checkPublicURLs},
	{"by default api and worker talk to the sim service on its listen port", checkSimIsTheDefault},
	{"api and worker start after migrate completed successfully and temporal is up", checkStartOrder},
	{"postgres creates the databases the app and temporal use, from deploy/postgres-init.sql", checkDatabases},
	{"the Dockerfile builds ./cmd/partnerflow and its final stage runs that binary", checkDockerfile},
	{"the build image's Go is the minor version go.mod asks for", checkGoVersion},
}

func TestProductionShapeMatchesTheCode(t *testing.T) {
	p := loadProject(t, nil)
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			if err := r.check(p); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestEnvScanFindsTheNamesTheCodeReads(t *testing.T) {
	names, err := scanEnvNames(repoRoot, envScanDirs)
	if err != nil {
		t.Fatal(err)
	}
	// One name per scanned folder, read in each of the ways the scan knows: an empty or broken
	// scan must not pass the rule that every name set is a name read.
	for _, want := range []string{
		"DATABASE_URL",                     // os.Getenv
		"PARTNERFLOW_UI_ORIGINS",           // os.Getenv inside another call
		"PARTNERCENTER_CLIENT_ID",          // os.Getenv, moved here from package partnercenter
		"PARTNERFLOW_HTTP_ADDR",            // env(...), a helper around os.LookupEnv
		"PARTNERCENTER_WEBHOOK_CERT_HOSTS", // env(...) inside another call
		"PARTNERFLOW_UI_PORT",              // envInt(...)
		"PARTNERFLOW_REMINDER_REPEAT",      // envDuration(...)
	} {
		if !names[want] {
			t.Errorf("the scan of %v did not find %s; found %v", envScanDirs, want, sortedKeys(names))
		}
	}
}

func TestEnvScanFindsHelpersAndRefusesNamesItCannotRead(t *testing.T) {
	dir := t.TempDir()
	write := func(name, src string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("a.go", `package config

import "os"

func Read() (string, bool) {
	_, ok := os.LookupEnv("DIRECT_LOOKUP")
	return lookupTwice("VIA_HELPER_OF_HELPER"), ok
}

func lookup(name string) string    { return os.Getenv(name) + os.Getenv("INSIDE_A_HELPER") }
func lookupTwice(key string) string { return lookup(key) + lookup(key) }
func notAHelper(name string) string { return name }

var _ = notAHelper("NOT_READ")
`)
	write("a_test.go", "package config\n\nimport \"os\"\n\nvar _ = os.Getenv(\"ONLY_IN_A_TEST\")\n")
	names, err := scanEnvNames(dir, []string{"."})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{
		"DIRECT_LOOKUP",
		"INSIDE_A_HELPER",
		"VIA_HELPER_OF_HELPER",
	}; !slices.Equal(sortedKeys(names), want) {
		t.Errorf("found %v, want %v", sortedKeys(names), want)
	}

	write("b.go", "package config\n\nimport \"os\"\n\nconst name = \"BY_CONSTANT\"\n\nvar _ = os.Getenv(name)\n")
	if _, err := scanEnvNames(dir, []string{"."}); err == nil || !strings.Contains(err.Error(), "b.go") {
		t.Errorf("a name the scan cannot see must fail the scan, got %v", err)
	}
}

// TestMistakesAreRefused edits the real files in memory and expects the named rule to fail, so
// a rule that can never fail does not pass unnoticed.
func TestMistakesAreRefused(t *testing.T) {
	tests := []struct {
		name       string
		file       string // "compose", "dockerfile" or "readme"
		old, new   string
		brokenRule string
	}{
		{
			name: "an environment name the code does not read is refused",
			file: "compose", old: "PARTNERFLOW_UI_ORIGINS:", new: "PARTNERFLOW_UI_ORIGIN:",
			brokenRule: "every environment name given to api, worker, migrate and sim is one the code reads",
		},
		{
			name: "a variable the code reads but README does not document is refused",
			file: "readme", old: "| `PARTNERFLOW_TEMPORAL_UI_URL` |", new: "| `PARTNERFLOW_TEMPORAL_UI` |",
			brokenRule: "README's Configuration table documents exactly the environment names the code reads",
		},
		{
			name:       "a variable README documents but the code does not read is refused",
			file:       "readme",
			old:        "| `PARTNERFLOW_MAIL_FROM` |",
			new:        "| `PARTNERFLOW_MAIL_FROM`, `PARTNERFLOW_MAIL_REPLY_TO` |",
			brokenRule: "README's Configuration table documents exactly the environment names the code reads",
		},
		{
			name:       "a worker without PARTNERFLOW_CODEC_KEY is refused",
			file:       "compose",
			old:        "  PARTNERFLOW_CODEC_KEY: ${PARTNERFLOW_CODEC_KEY:?set PARTNERFLOW_CODEC_KEY}\n",
			new:        "",
			brokenRule: "api and worker get every variable the production commands require",
		},
		{
			name: "a required variable passed through empty is refused",
			file: "compose", old: "${GRAPH_URL:-http://sim:8081}", new: "${GRAPH_URL:-}",
			brokenRule: "api and worker get every variable the production commands require",
		},
		{
			name: "an api listening on another port than the published one is refused",
			file: "compose", old: "PARTNERFLOW_HTTP_ADDR: 0.0.0.0:8080", new: "PARTNERFLOW_HTTP_ADDR: 0.0.0.0:8000",
			brokenRule: "listen addresses bind every interface and their ports are the published ones",
		},
		{
			name: "a simulator listening on loopback only is refused",
			file: "compose", old: "PARTNERFLOW_SIM_ADDR: 0.0.0.0:8081", new: "PARTNERFLOW_SIM_ADDR: 127.0.0.1:8081",
			brokenRule: "listen addresses bind every interface and their ports are the published ones",
		},
		{
			name: "a codec endpoint on another port than the api's is refused",
			file: "compose", old: "http://localhost:8080/codec", new: "http://localhost:9999/codec",
			brokenRule: "the Web UI is published on 8233 and its codec endpoint is the api's published port and /codec",
		},
		{
			name: "a Temporal frontend published on every interface is refused",
			file: "compose", old: `"127.0.0.1:7233:7233"`, new: `"7233:7233"`,
			brokenRule: "temporal, its Web UI, the simulator, the mail catcher and the worker's metrics " +
				"are published on loopback only",
		},
		{
			name: "a mail catcher published on every interface is refused",
			file: "compose", old: `"127.0.0.1:8025:8025"`, new: `"0.0.0.0:8025:8025"`,
			brokenRule: "temporal, its Web UI, the simulator, the mail catcher and the worker's metrics " +
				"are published on loopback only",
		},
		{
			name: "a missing sim service is refused",
			file: "compose", old: "\n  sim:\n", new: "\n  simulator:\n",
			brokenRule: "every service of the production shape exists",
		},
		{
			name: "a service of ours running the wrong command is refused",
			file: "compose", old: `command: ["worker"]`, new: `command: ["api"]`,
			brokenRule: "api, worker, migrate and sim run the image built from the Dockerfile with their own command",
		},
		{
			name: "an api that may start before migrate completed is refused",
			file: "compose", old: "condition: service_completed_successfully", new: "condition: service_started",
			brokenRule: "api and worker start after migrate completed successfully and temporal is up",
		},
		{
			name: "a final stage without ENTRYPOINT is refused",
			file: "dockerfile", old: `ENTRYPOINT ["/partnerflow"]`, new: `CMD ["/partnerflow"]`,
			brokenRule: "the Dockerfile builds ./cmd/partnerflow and its final stage runs that binary",
		},
		{
			name: "a build of another package is refused",
			file: "dockerfile", old: "./cmd/partnerflow", new: "./cmd/other",
			brokenRule: "the Dockerfile builds ./cmd/partnerflow and its final stage runs that binary",
		},
	}
	byName := map[string]rule{}
	for _, r := range rules {
		byName[r.name] = r
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok := byName[tt.brokenRule]
			if !ok {
				t.Fatalf("no rule named %q", tt.brokenRule)
			}
			p := loadProject(t, func(file, text string) string {
				if file != tt.file {
					return text
				}
				if !strings.Contains(text, tt.old) {
					t.Fatalf("the %s does not contain %q; update this case", file, tt.old)
				}
				return strings.ReplaceAll(text, tt.old, tt.new)
			})
			if err := r.check(p); err == nil {
				t.Errorf("rule %q passed the edited %s", r.name, tt.file)
			} else {
				t.Logf("refused as expected: %v", err)
			}
		})
	}
}

// loadProject reads the files of the production shape; edit, when not nil, changes a file's
// text ("compose", "dockerfile" or "readme") before it is parsed.
func loadProject(t *testing.T, edit func(file, text string) string) project {
	t.Helper()
	read := func(file, path string) string {
		b, err := os.ReadFile(filepath.Join(repoRoot, path))
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			return edit(file, string(b))
		}
		return string(b)
	}
	var p project
	if err := yaml.Unmarshal([]byte(read("compose", "docker-compose.yml")), &p.compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	p.dockerfile = read("dockerfile", "Dockerfile")
	p.initSQL = read("init", "deploy/postgres-init.sql")
	p.goMod = read("go.mod", "go.mod")
	p.readme = read("readme", "README.md")
	var err error
	if p.envRead, err = scanEnvNames(repoRoot, envScanDirs); err != nil {
		t.Fatal(err)
	}
	return p
}

// envNamePattern is what an environment variable name of ours looks like.
var envNamePattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]+$`)

// scanEnvNames collects the environment names read by the non-test Go files under dirs: the
// string literals passed as the name to os.Getenv or os.LookupEnv, or to a helper of those
// files that hands its first parameter on to one of them (config's env, envInt, envDuration),
// directly or through another helper. A read whose name is not a string literal (outside such
// a helper) fails the scan, so no name read escapes it.
func scanEnvNames(root string, dirs []string) (map[string]bool, error) {
	fset := token.NewFileSet()
	var files []*ast.File
	for _, dir := range dirs {
		n := 0
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return fmt.Errorf("parse %s: %w", path, err)
			}
			files = append(files, f)
			n++
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", dir, err)
		}
		if n == 0 {
			return nil, fmt.Errorf("scan %s: no Go files", dir)
		}
	}

	// helpers are the functions whose first parameter is an environment name they read.
	helpers := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for _, f := range files {
			for _, decl := range f.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				if !ok || fn.Recv != nil || fn.Body == nil || helpers[fn.Name.Name] {
					continue
				}
				param := firstParam(fn)
				if param == "" {
					continue
				}
				ast.Inspect(fn.Body, func(n ast.Node) bool {
					call, ok := n.(*ast.CallExpr)
					if ok && len(call.Args) > 0 && readsEnv(call.Fun, helpers) {
						if id, ok := call.Args[0].(*ast.Ident); ok && id.Name == param {
							helpers[fn.Name.Name], changed = true, true
						}
					}
					return true
				})
			}
		}
	}

	names := map[string]bool{}
	var errs []error
	for _, f := range files {
		for _, decl := range f.Decls {
			// Inside a helper, reading its own parameter is what makes it a helper; the names
			// are at its callers.
			param := ""
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && helpers[fn.Name.Name] {
				param = firstParam(fn)
			}
			ast.Inspect(decl, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) == 0 || !readsEnv(call.Fun, helpers) {
					return true
				}
				if id, ok := call.Args[0].(*ast.Ident); ok && param != "" && id.Name == param {
					return true
				}
				lit, ok := call.Args[0].(*ast.BasicLit)
				name := ""
				if ok && lit.Kind == token.STRING {
					name, _ = strconv.Unquote(lit.Value)
				}
				if !envNamePattern.MatchString(name) {
					errs = append(errs, fmt.Errorf(
						"%s: an environment read whose name is not a string literal like \"PARTNERFLOW_X\"; "+
							"the scan cannot see it",
						fset.Position(call.Pos()),
					))
					return true
				}
				names[name] = true
				return true
			})
		}
	}
	return names, errors.Join(errs...)
}

// firstParam is the name of a function's first parameter if it is a string.
func firstParam(fn *ast.FuncDecl) string {
	params := fn.Type.Params.List
	if len(params) == 0 || len(params[0].Names) == 0 {
		return ""
	}
	if t, ok := params[0].Type.(*ast.Ident); !ok || t.Name != "string" {
		return ""
	}
	return params[0].Names[0].Name
}

func readsEnv(fun ast.Expr, helpers map[string]bool) bool {
	switch f := fun.(type) {
	case *ast.SelectorExpr:
		pkg, ok := f.X.(*ast.Ident)
		return ok && pkg.Name == "os" && (f.Sel.Name == "Getenv" || f.Sel.Name == "LookupEnv")
	case *ast.Ident:
		return helpers[f.Name]
	}
	return false
}

// readmeEnvNames are the names in the first column of README's Configuration table.
func readmeEnvNames(readme string) map[string]bool {
	names := map[string]bool{}
	in := false
	for line := range strings.Lines(readme) {
		switch {
		case strings.HasPrefix(line, "## "):
			in = strings.TrimSpace(line) == "## Configuration"
		case in && strings.HasPrefix(line, "|"):
			cells := strings.Split(line, "|")
			if len(cells) < 2 {
				continue
			}
			for _, m := range backticked.FindAllStringSubmatch(cells[1], -1) {
				if envNamePattern.MatchString(m[1]) {
					names[m[1]] = true
				}
			}
		}
	}
	return names
}

var backticked = regexp.MustCompile("`([^`]+)`")

func checkReadmeDocumentsEnv(p project) error {
	documented := readmeEnvNames(p.readme)
	if len(documented) == 0 {
		return errors.New("README.md has no ## Configuration table naming variables")
	}
	var errs []error
	for _, name := range sortedKeys(p.envRead) {
		if !documented[name] {
			errs = append(errs, fmt.Errorf(
				"the code reads %s but README's Configuration table does not document it", name,
			))
		}
	}
	for _, name := range sortedKeys(documented) {
		if !p.envRead[name] {
			errs = append(errs, fmt.Errorf(
				"README's Configuration table documents %s, which no code under %v reads", name, envScanDirs,
			))
		}
	}
	return errors.Join(errs...)
}

func checkServicesExist(p project) error {
	var missing []string
	for _, name := range []string{"postgres", "temporal", "temporal-ui", "migrate", "api", "worker", "mailpit", "sim"} {
		if _, ok := p.compose.Services[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("docker-compose.yml has no service %s", strings.Join(missing, ", "))
	}
	return nil
}

func checkOurImage(p project) error {
	var errs []error
	for _, name := range sortedKeys(ourServices) {
		s, ok := p.compose.Services[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%s: no such service", name))
			continue
		}
		if ctx, dockerfile := buildOf(s.Build); ctx != "." || (dockerfile != "" && dockerfile != "Dockerfile") {
			errs = append(errs, fmt.Errorf(
				"%s: build is context %q, Dockerfile %q; want `build: .`", name, ctx, dockerfile,
			))
		}
		if want := []string{ourServices[name]}; !slices.Equal(s.Command, want) {
			errs = append(errs, fmt.Errorf("%s: command is %q, want %q", name, s.Command, want))
		}
	}
	return errors.Join(errs...)
}

// buildOf reads `build: <context>` or `build: {context, dockerfile}`.
func buildOf(n yaml.Node) (context, dockerfile string) {
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value, ""
	case yaml.MappingNode:
		var b struct {
			Context    string `yaml:"context"`
			Dockerfile string `yaml:"dockerfile"`
		}
		if err := n.Decode(&b); err == nil {
			return b.Context, b.Dockerfile
		}
	}
	return "", ""
}

func checkEnvNamesAreRead(p project) error {
	var errs []error
	for _, name := range sortedKeys(ourServices) {
		for _, v := range sortedKeys(p.compose.Services[name].Environment) {
			if !p.envRead[v] {
				errs = append(errs, fmt.Errorf("%s sets %s, which no code under %v reads", name, v, envScanDirs))
			}
		}
	}
	return errors.Join(errs...)
}

// passedThroughEmpty matches a value that is only an interpolation with an empty default.
var passedThroughEmpty = regexp.MustCompile(`^\$\{[A-Z0-9_]+:?-\}$`)

func checkRequiredEnv(p project) error {
	var errs []error
	for _, name := range []string{"api", "worker"} {
		env := p.compose.Services[name].Environment
		for _, v := range requiredByProductionCommands {
			value, ok := env[v]
			switch {
			case !ok:
				errs = append(errs, fmt.Errorf("%s does not set %s", name, v))
			case strings.TrimSpace(value) == "" || passedThroughEmpty.MatchString(value):
				errs = append(errs, fmt.Errorf("%s sets %s to %q, which may be empty", name, v, value))
			}
		}
	}
	return errors.Join(errs...)
}

// listenAddresses are the variables that name an address a container of ours listens on.
var listenAddresses = map[string]string{
	"api":    "PARTNERFLOW_HTTP_ADDR",
	"worker": "PARTNERFLOW_METRICS_ADDR",
	"sim":    "PARTNERFLOW_SIM_ADDR",
}

func checkPorts(p project) error {
	var errs []error
	for _, name := range sortedKeys(listenAddresses) {
		v := listenAddresses[name]
		s := p.compose.Services[name]
		host, port, err := net.SplitHostPort(s.Environment[v])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %s=%q: %v", name, v, s.Environment[v], err))
			continue
		}
		if host != "0.0.0.0" && host != "" {
			errs = append(errs, fmt.Errorf(
				"%s: %s listens on %s, which other containers and published ports cannot reach; use 0.0.0.0",
				name, v, host,
			))
		}
		if _, ok := publishedPort(s, port); !ok {
			errs = append(errs, fmt.Errorf("%s: listens on port %s (%s) but publishes %q", name, port, v, s.Ports))
		}
	}
	return errors.Join(errs...)
}

// publishedPort is the host port a service publishes its container port on.
func publishedPort(s service, containerPort string) (string, bool) {
	for _, p := range s.Ports {
		parts := strings.Split(p, ":")
		if len(parts) >= 2 && strings.TrimSuffix(parts[len(parts)-1], "/tcp") == containerPort {
			return parts[len(parts)-2], true
		}
	}
	return "", false
}

// apiPublishedURL is how a browser on the host reaches the api.
func apiPublishedURL(p project) (string, error) {
	api := p.compose.Services["api"]
	_, port, err := net.SplitHostPort(api.Environment["PARTNERFLOW_HTTP_ADDR"])
	if err != nil {
		return "", fmt.Errorf("api: PARTNERFLOW_HTTP_ADDR: %v", err)
	}
	hostPort, ok := publishedPort(api, port)
	if !ok {
		return "", fmt.Errorf("api does not publish its port %s", port)
	}
	return "http://localhost:" + hostPort, nil
}

func checkCodecEndpoint(p project) error {
	ui := p.compose.Services["temporal-ui"]
	var errs []error
	if !slices.Contains(ui.Ports, "127.0.0.1:8233:8080") {
		errs = append(errs, fmt.Errorf("temporal-ui publishes %q, want 127.0.0.1:8233:8080", ui.Ports))
	}
	api, err := apiPublishedURL(p)
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	if got, want := ui.Environment["TEMPORAL_CODEC_ENDPOINT"], api+"/codec"; got != want {
		errs = append(errs, fmt.Errorf("temporal-ui: TEMPORAL_CODEC_ENDPOINT=%q, want %q", got, want))
	}
	if got := ui.Environment["TEMPORAL_CODEC_INCLUDE_CREDENTIALS"]; got != "true" {
		errs = append(errs, fmt.Errorf(
			"temporal-ui: TEMPORAL_CODEC_INCLUDE_CREDENTIALS=%q; the codec needs the session cookie", got,
		))
	}
	return errors.Join(errs...)
}

// loopbackOnly are the services that ask nobody who they are: anyone who reaches their ports can
// read every history, send mail in the partner's name or play Partner Center.
var loopbackOnly = []string{"temporal", "temporal-ui", "sim", "mailpit", "worker"}

func checkLoopbackOnly(p project) error {
	var errs []error
	for _, name := range loopbackOnly {
		for _, port := range p.compose.Services[name].Ports {
			if !strings.HasPrefix(port, "127.0.0.1:") {
				errs = append(errs, fmt.Errorf(
					"%s publishes %q on every interface; bind it to the host's loopback (\"127.0.0.1:%s\")",
					name, port, port,
				))
			}
		}
	}
	return errors.Join(errs...)
}

func checkPublicURLs(p project) error {
	api, err := apiPublishedURL(p)
	if err != nil {
		return err
	}
	env := p.compose.Services["api"].Environment
	var errs []error
	if got := env["PARTNERFLOW_PUBLIC_URL"]; got != api {
		errs = append(errs, fmt.Errorf("api: PARTNERFLOW_PUBLIC_URL=%q, want the published %q", got, api))
	}
	uiPort, ok := publishedPort(p.compose.Services["temporal-ui"], "8080")
	if !ok {
		return errors.Join(append(errs, errors.New("temporal-ui does not publish its port 8080"))...)
	}
	if origins := strings.Split(
		env["PARTNERFLOW_UI_ORIGINS"], ",",
	); !slices.Contains(origins, "http://localhost:"+uiPort) {
		errs = append(errs, fmt.Errorf(
			"api: PARTNERFLOW_UI_ORIGINS=%q does not allow the Web UI at http://localhost:%s",
			env["PARTNERFLOW_UI_ORIGINS"], uiPort,
		))
	}
	return errors.Join(errs...)
}

// withDefault matches `${NAME:-default}` and `${NAME-default}`.
var withDefault = regexp.MustCompile(`^\$\{[A-Z0-9_]+:?-(.*)\}$`)

// interpolationDefault is the default of `${NAME:-default}`, or the value itself.
func interpolationDefault(value string) string {
	if m := withDefault.FindStringSubmatch(value); m != nil {
		return m[1]
	}
	return value
}

func checkSimIsTheDefault(p project) error {
	_, port, err := net.SplitHostPort(p.compose.Services["sim"].Environment["PARTNERFLOW_SIM_ADDR"])
	if err != nil {
		return fmt.Errorf("sim: PARTNERFLOW_SIM_ADDR: %v", err)
	}
	want := "sim:" + port
	var errs []error
	for _, name := range []string{"api", "worker"} {
		for _, v := range []string{"PARTNERCENTER_URL", "GRAPH_URL"} {
			value := p.compose.Services[name].Environment[v]
			u, err := url.Parse(interpolationDefault(value))
			if err != nil || u.Host != want {
				errs = append(errs, fmt.Errorf("%s: %s=%q does not default to http://%s", name, v, value, want))
			}
		}
	}
	return errors.Join(errs...)
}

func checkStartOrder(p project) error {
	want := map[string]string{"migrate": "service_completed_successfully", "temporal": "service_healthy"}
	var errs []error
	for _, name := range []string{"api", "worker"} {
		deps := p.compose.Services[name].DependsOn
		for _, dep := range sortedKeys(want) {
			if got := deps[dep].Condition; got != want[dep] {
				errs = append(errs, fmt.Errorf(
					"%s depends on %s with condition %q, want %q", name, dep, got, want[dep],
				))
			}
		}
	}
	if got := p.compose.Services["migrate"].DependsOn["postgres"].Condition; got != "service_healthy" {
		errs = append(errs, fmt.Errorf("migrate depends on postgres with condition %q, want service_healthy", got))
	}
	return errors.Join(errs...)
}

var createDatabase = regexp.MustCompile(`(?i)create\s+database\s+(\w+)`)

func checkDatabases(p project) error {
	var errs []error
	mounted := false
	for _, v := range p.compose.Services["postgres"].Volumes {
		if strings.HasPrefix(v, "./deploy/postgres-init.sql:/docker-entrypoint-initdb.d/") {
			mounted = true
		}
	}
	if !mounted {
		errs = append(errs, errors.New(
			"postgres does not mount ./deploy/postgres-init.sql into /docker-entrypoint-initdb.d/",
		))
	}
	created := map[string]bool{}
	for _, m := range createDatabase.FindAllStringSubmatch(p.initSQL, -1) {
		created[m[1]] = true
	}
	dsn, err := url.Parse(p.compose.Services["api"].Environment["DATABASE_URL"])
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("api: DATABASE_URL: %v", err))...)
	}
	temporal := p.compose.Services["temporal"].Environment
	for _, db := range []string{strings.TrimPrefix(dsn.Path, "/"), temporal["DBNAME"], temporal["VISIBILITY_DBNAME"]} {
		if !created[db] {
			errs = append(errs, fmt.Errorf(
				"deploy/postgres-init.sql does not create database %q (it creates %v)", db, sortedKeys(created),
			))
		}
	}
	return errors.Join(errs...)
}

// dockerStage is one FROM ... section of a Dockerfile, with continuation lines joined.
type dockerStage struct {
	from, name   string
	instructions []string
}

func parseDockerfile(text string) []dockerStage {
	var stages []dockerStage
	var logical strings.Builder
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			continue
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			logical.WriteString(cont + " ")
			continue
		}
		logical.WriteString(line)
		instr := strings.Join(strings.Fields(logical.String()), " ")
		logical.Reset()
		if instr == "" {
			continue
		}
		if f := strings.Fields(instr); strings.EqualFold(f[0], "FROM") && len(f) >= 2 {
			s := dockerStage{from: f[1]}
			if len(f) == 4 && strings.EqualFold(f[2], "AS") {
				s.name = f[3]
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) > 0 {
			stages[len(stages)-1].instructions = append(stages[len(stages)-1].instructions, instr)
		}
	}
	return stages
}

var goBuildOutput = regexp.MustCompile(`go build .*-o (\S+) \./cmd/partnerflow$`)

func checkDockerfile(p project) error {
	stages := parseDockerfile(p.dockerfile)
	if len(stages) < 2 {
		return fmt.Errorf("the Dockerfile has %d stages, want a build stage and a runtime stage", len(stages))
	}
	build, final := stages[0], stages[len(stages)-1]
	var errs []error
	binary := ""
	for _, in := range build.instructions {
		if m := goBuildOutput.FindStringSubmatch(in); m != nil {
			binary = m[1]
			if !strings.Contains(in, "CGO_ENABLED=0") {
				errs = append(errs, fmt.Errorf(
					"the build does not set CGO_ENABLED=0, so the binary needs a libc the runtime image lacks: %s", in,
				))
			}
		}
	}
	if binary == "" {
		return errors.Join(append(errs, fmt.Errorf(
			"stage %q has no `go build ... -o <binary> ./cmd/partnerflow`", build.name,
		))...)
	}
	copied := ""
	entrypoint := ""
	for _, in := range final.instructions {
		f := strings.Fields(in)
		if strings.EqualFold(f[0], "COPY") && slices.Contains(f, "--from="+build.name) &&
			len(f) >= 3 && f[len(f)-2] == binary {
			copied = f[len(f)-1]
		}
		if strings.EqualFold(f[0], "ENTRYPOINT") {
			entrypoint = strings.TrimSpace(strings.TrimPrefix(in, f[0]))
		}
	}
	if copied == "" {
		errs = append(errs, fmt.Errorf("the final stage does not COPY --from=%s %s", build.name, binary))
	}
	if want := strconv.Quote(copied); copied != "" && entrypoint != "["+want+"]" {
		errs = append(errs, fmt.Errorf(
			"the final stage's ENTRYPOINT is %q, want [%s] so `command:` picks the subcommand", entrypoint, want,
		))
	}
	return errors.Join(errs...)
}

var goDirective = regexp.MustCompile(`(?m)^go (\d+\.\d+)`)

func checkGoVersion(p project) error {
	stages := parseDockerfile(p.dockerfile)
	if len(stages) == 0 {
		return errors.New("the Dockerfile has no FROM")
	}
	m := goDirective.FindStringSubmatch(p.goMod)
	if m == nil {
		return errors.New("go.mod has no go directive")
	}
	if want := "golang:" + m[1]; stages[0].from != want && !strings.HasPrefix(stages[0].from, want+".") &&
		!strings.HasPrefix(stages[0].from, want+"-") {
		return fmt.Errorf("the build stage is FROM %s, want %s (go.mod says go %s)", stages[0].from, want, m[1])
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
