"""Layering rules that the build checks (issue 11): what a layer of cellgw may not depend on.

README and DESIGN say that `bridge/` knows nothing of gRPC and that `common/` knows neither
gRPC nor AMQP. Visibility keeps most wrong edges out (//third_party:grpc and the generated
protos are not visible to them), but the system-library targets declare no headers, so a file
could still include <grpcpp/...> from /usr/include and link through some other path. A
layering_test checks all three ways in:

  * the dependency graph (deps, srcs, hdrs, data) under each layer, walked by an aspect at
    analysis time: no forbidden label or package may be reached;
  * the link options of every target reached (e.g. no -lgrpc++ written into a cc_library);
  * the #include lines of every source and header of this workspace reached, and of every
    C/C++ file of each layer's package, grepped when the test runs;
  * that every C/C++ file of a layer's package belongs to a rule the check saw.

The test prints each violation (with the dependency path that reaches it) and fails.

Usage. In the layer's BUILD file, as its LAST statement (existing_rules() only sees the
rules declared before it; a rule added below it fails the test as "unchecked file"):

    load("//tests/layering:layering.bzl", "layer_members")
    layer_members(name = "layering_members")

and in tests/layering/BUILD.bazel:

    layering_test(name = ..., layers = ["//bridge:layering_members"], forbidden_labels = [...])
"""

LayerInfo = provider(
    doc = "A layer_members target: the source files of its package, for layering_test.",
    fields = {"package_files": "depset of every C/C++ source and header of the package"},
)

LayeringInfo = provider(
    doc = "What a target and everything below it bring in, for layering_test.",
    fields = {
        "edges": "depset of 'from\\tto' label strings: the dependency graph below the target",
        "linkopts": "depset of 'label\\tlinkopt' strings",
        "sources": "depset of this workspace's source and header Files",
    },
)

# The attributes a C++ target depends through. `data` too: a layer shipping a gRPC binary or
# a .proto as data would know about gRPC as well.
_DEP_ATTRS = ["deps", "implementation_deps", "srcs", "hdrs", "textual_hdrs", "data"]
_SOURCE_ATTRS = ["srcs", "hdrs", "textual_hdrs"]

def _as_list(value):
    if value == None:
        return []
    if type(value) == "list":
        return value
    return [value]

def _layering_aspect_impl(target, ctx):
    label = str(target.label)
    edges = []
    transitive = []
    for attr_name in _DEP_ATTRS:
        for dep in _as_list(getattr(ctx.rule.attr, attr_name, None)):
            if type(dep) != "Target":
                continue
            edges.append(label + "\t" + str(dep.label))
            if LayeringInfo in dep:
                transitive.append(dep[LayeringInfo])
    sources = []
    for attr_name in _SOURCE_ATTRS:
        for f in _as_list(getattr(ctx.rule.files, attr_name, None)):
            if f.owner != None and f.owner.workspace_name == "":
                sources.append(f)
    linkopts = [label + "\t" + opt for opt in _as_list(getattr(ctx.rule.attr, "linkopts", None))]
    return [LayeringInfo(
        edges = depset(edges, transitive = [t.edges for t in transitive]),
        linkopts = depset(linkopts, transitive = [t.linkopts for t in transitive]),
        sources = depset(sources, transitive = [t.sources for t in transitive]),
    )]

_layering_aspect = aspect(
    implementation = _layering_aspect_impl,
    attr_aspects = _DEP_ATTRS,
)

def _path(children, root, goal):
    """The labels from root to goal (breadth first, so a shortest path), as one string."""
    parent = {root: root}
    frontier = [root]

    # Starlark has no while: at most one round per node.
    for _ in range(len(children) + 1):
        if goal in parent or not frontier:
            break
        reached = []
        for node in frontier:
            for child in children.get(node, []):
                if child not in parent:
                    parent[child] = node
                    reached.append(child)
        frontier = reached
    if goal not in parent:
        return goal
    path = [goal]
    for _ in range(len(parent)):
        if path[-1] == root:
            break
        path.append(parent[path[-1]])
    return " -> ".join(reversed(path))

def _forbidden(label, forbidden_labels, forbidden_packages):
    if label in forbidden_labels:
        return True
    package = label.split(":")[0]
    for prefix in forbidden_packages:
        if package == prefix or package.startswith(prefix + "/"):
            return True
    return False

def _shell_quote(text):
    return "'" + text.replace("'", "'\\''") + "'"

def _layering_test_impl(ctx):
    forbidden_labels = [str(Label(label)) for label in ctx.attr.forbidden_labels]
    violations = []
    sources = []
    for layer in ctx.attr.layers:
        info = layer[LayeringInfo]
        children = {}
        for edge in info.edges.to_list():
            parent, child = edge.split("\t")
            children.setdefault(parent, []).append(child)
        root = str(layer.label)
        reached = {child: True for kids in children.values() for child in kids}
        for label in sorted(reached.keys()):
            if _forbidden(label, forbidden_labels, ctx.attr.forbidden_packages):
                violations.append("dependency: " + _path(children, root, label))
        for entry in info.linkopts.to_list():
            label, opt = entry.split("\t")
            for prefix in ctx.attr.forbidden_linkopts:
                if opt.startswith(prefix):
                    violations.append("link option %s in %s" % (opt, _path(children, root, label)))
        sources.append(info.sources)
        if LayerInfo in layer:
            # A file no member rule claims belongs to a rule declared after layer_members()
            # (or to none): that rule's dependencies would go unchecked.
            claimed = {f.short_path: True for f in info.sources.to_list()}
            for f in layer[LayerInfo].package_files.to_list():
                if f.short_path not in claimed:
                    violations.append(
                        "unchecked file: %s is in no rule declared before %s (make " % (
                            f.short_path,
                            root,
                        ) + "layer_members() the last statement of its BUILD file)",
                    )
            sources.append(layer[LayerInfo].package_files)
    files = depset(transitive = sources).to_list()
    script = ctx.actions.declare_file(ctx.label.name + ".sh")
    ctx.actions.expand_template(
        template = ctx.file._script_template,
        output = script,
        is_executable = True,
        substitutions = {
            "%{violations}": "\n".join([_shell_quote(v) for v in violations]),
            "%{files}": "\n".join([_shell_quote(f.short_path) for f in files]),
            "%{include_pattern}": _shell_quote(ctx.attr.forbidden_includes),
            "%{expect_violations}": "1" if ctx.attr.expect_violations else "0",
            "%{layers}": " ".join([str(layer.label) for layer in ctx.attr.layers]),
        },
    )
    return [DefaultInfo(executable = script, runfiles = ctx.runfiles(files = files))]

layering_test = rule(
    implementation = _layering_test_impl,
    test = True,
    doc = "Fails when a layer reaches a forbidden label, link option or #include.",
    attrs = {
        "layers": attr.label_list(
            aspects = [_layering_aspect],
            mandatory = True,
            doc = "layer_members targets (or any targets) whose closure is checked",
        ),
        "forbidden_labels": attr.string_list(doc = "labels no layer may reach"),
        "forbidden_packages": attr.string_list(
            doc = "packages ('//proto') no layer may reach any target of, subpackages included",
        ),
        "forbidden_linkopts": attr.string_list(doc = "link option prefixes ('-lgrpc')"),
        "forbidden_includes": attr.string(
            mandatory = True,
            doc = "extended regular expression of a forbidden #include line",
        ),
        "expect_violations": attr.bool(
            doc = "the checker's own test: pass only when every kind of violation is found",
        ),
        "_script_template": attr.label(
            default = Label("//tests/layering:layering_test.sh.tpl"),
            allow_single_file = True,
        ),
    },
)

def _layer_impl(ctx):
    return [
        DefaultInfo(),
        LayerInfo(package_files = depset(ctx.files.package_files)),
    ]

_layer = rule(
    implementation = _layer_impl,
    attrs = {
        "deps": attr.label_list(),
        "package_files": attr.label_list(allow_files = True),
    },
)

def layer_members(name, visibility = ["//tests/layering:__pkg__"]):
    """Declares `name`, standing for every rule of this package declared before it.

    Call it last in the BUILD file, so that a library added later is checked without anyone
    remembering to list it. Should a rule still end up below it, the layering test fails:
    its source files (found by a glob of the package) belong to no member.

    Args:
      name: the target's name ("layering_members").
      visibility: who may check it.
    """
    members = [":" + rule for rule in native.existing_rules().keys() if rule != name]
    _layer(
        name = name,
        deps = sorted(members),
        # Unlike existing_rules(), a glob sees the whole package wherever it is called: the
        # test greps every file, and fails when one belongs to no member.
        package_files = native.glob(["**/*.cc", "**/*.h", "**/*.inc"]),
        testonly = True,  # members may be testonly; only a test depends on this
        visibility = visibility,
    )
