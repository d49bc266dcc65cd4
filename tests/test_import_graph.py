"""The import graph of the ``mmhad`` package: no cycles, and no imports of ``tests`` / ``tools``.

Every module under ``mmhad/`` is parsed with :mod:`ast` (nothing is imported). An edge
``a -> b`` is an intra-package import that runs when ``a`` is imported: statements at
module level, including those nested in module-level ``if`` / ``try`` / ``with`` blocks and
class bodies, but not inside functions (deferred imports) and not under
``if TYPE_CHECKING:``. Absolute (``mmhad.x``) and relative (``from .x import y``) imports
count. ``from pkg import name`` is an edge to the submodule ``pkg.name`` when that is a
module, else to ``pkg`` itself (its ``__init__`` must have defined ``name``); parent
packages that Python initialises implicitly on the way are not edges, as that pattern
(a package ``__init__`` importing its submodules) is how packages are meant to work.
"""
import ast
import os
import os.path as osp
from typing import Dict, Iterator, List, Set

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
PACKAGE = 'mmhad'
FORBIDDEN = ('tests', 'tools')   # the library never imports these


def _modules() -> Dict[str, str]:
    """``{dotted module name: path}`` for every ``.py`` file under ``mmhad/``."""
    mods = {}
    for dirpath, dirnames, filenames in os.walk(osp.join(ROOT, PACKAGE)):
        dirnames[:] = sorted(d for d in dirnames if d != '__pycache__')
        for fn in sorted(filenames):
            if not fn.endswith('.py'):
                continue
            path = osp.join(dirpath, fn)
            parts = osp.relpath(path, ROOT)[:-3].split(os.sep)
            if parts[-1] == '__init__':
                parts = parts[:-1]
            mods['.'.join(parts)] = path
    return mods


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == 'TYPE_CHECKING') or (
        isinstance(test, ast.Attribute) and test.attr == 'TYPE_CHECKING')


def _import_nodes(node: ast.AST, module_level_only: bool) -> Iterator[ast.AST]:
    """Import statements under ``node``; with ``module_level_only`` those that run at
    import time (not in function bodies, not under ``if TYPE_CHECKING:``)."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child
        elif module_level_only and isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            continue
        elif module_level_only and isinstance(child, ast.If) and _is_type_checking(
                child.test):
            for stmt in child.orelse:
                yield from _import_nodes(ast.Module(body=[stmt], type_ignores=[]), True)
        else:
            yield from _import_nodes(child, module_level_only)


def _base_of_relative(module: str, level: int) -> str:
    package = module if MODULES[module].endswith('__init__.py') else module.rpartition('.')[0]
    parts = package.split('.')
    return '.'.join(parts[:len(parts) - (level - 1)])


def _known(name: str) -> str:
    """The longest prefix of ``name`` that is a module of the package ('' if none)."""
    parts = name.split('.')
    while parts and '.'.join(parts) not in MODULES:
        parts.pop()
    return '.'.join(parts)


def _targets(module: str, node: ast.AST) -> Set[str]:
    """Modules of the package that ``node`` (an import in ``module``) imports."""
    found = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name == PACKAGE or alias.name.startswith(PACKAGE + '.'):
                found.add(_known(alias.name))
        return found - {''}
    base = _base_of_relative(module, node.level) if node.level else (node.module or '')
    if node.level and node.module:
        base = f'{base}.{node.module}'
    if base != PACKAGE and not base.startswith(PACKAGE + '.'):
        return set()
    for alias in node.names:
        sub = f'{base}.{alias.name}'
        found.add(sub if sub in MODULES else _known(base))
    return found - {''}


def _graph(module_level_only: bool = True) -> Dict[str, Set[str]]:
    graph = {}
    for module, path in MODULES.items():
        with open(path, encoding='utf-8') as f:
            tree = ast.parse(f.read(), filename=path)
        edges = set()
        for node in _import_nodes(tree, module_level_only):
            edges |= _targets(module, node)
        graph[module] = edges - {module}
    return graph


def _cycles(graph: Dict[str, Set[str]]) -> List[List[str]]:
    """One cycle (``[a, b, .., a]``) per strongly connected component with a cycle."""
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    on_stack: Set[str] = set()
    components: List[Set[str]] = []

    def strongconnect(v):  # Tarjan; the package is small enough for recursion
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(comp)

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)

    cycles = []
    for comp in components:  # a shortest cycle through the component's first module
        start = min(comp)
        paths = {start: [start]}
        frontier = [start]
        cycle = None
        while frontier and cycle is None:
            nxt = []
            for v in frontier:
                for w in sorted(graph[v] & comp):
                    if w == start:
                        cycle = paths[v] + [start]
                        break
                    if w not in paths:
                        paths[w] = paths[v] + [w]
                        nxt.append(w)
                if cycle:
                    break
            frontier = nxt
        cycles.append(cycle)
    return sorted(cycles)


def _fmt(cycles: List[List[str]]) -> str:
    return '\n'.join(' -> '.join(c) for c in cycles)


GRAPH = _graph()
CYCLES = _cycles(GRAPH)


def _subgraph(graph: Dict[str, Set[str]], prefix: str) -> Dict[str, Set[str]]:
    def inside(m):
        return m == prefix or m.startswith(prefix + '.')
    return {m: {t for t in ts if inside(t)} for m, ts in graph.items() if inside(m)}


def test_graph_sees_the_package():
    """The parser finds the modules and the imports it is meant to check."""
    assert 'mmhad.ops.function' in GRAPH and 'mmhad.ops.kernels.triton_fwd' in GRAPH
    assert GRAPH['mmhad.ops.kernels.triton_fwd'] == {'mmhad.ops.pairs'}
    assert 'mmhad.ops' in GRAPH['mmhad.models.layers.ach']          # attribute of __init__
    assert 'mmhad.ops.dispatch' in GRAPH['mmhad.ops.function']       # from . import dispatch
    # the deferred (optional-dependency) import of the Triton kernel is not module level
    assert 'mmhad.ops.kernels.triton_fwd' not in GRAPH['mmhad.ops.dispatch']
    assert 'mmhad.ops.kernels.triton_fwd' in _graph(False)['mmhad.ops.dispatch']
    # the cycle finder itself
    assert _cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [['a', 'b', 'c', 'a']]
    assert _cycles({'a': {'b'}, 'b': set()}) == []


def test_package_has_no_import_cycle():
    """Module-level imports of mmhad form no cycle."""
    assert not CYCLES, 'import cycles in mmhad:\n' + _fmt(CYCLES)


def test_ops_has_no_cycle_even_through_deferred_imports():
    """mmhad.ops is layered: no cycle even counting imports inside functions (a cycle
    that only works because one side imports lazily is still a cycle)."""
    cycles = _cycles(_subgraph(_graph(module_level_only=False), 'mmhad.ops'))
    assert not cycles, 'import cycles in mmhad.ops:\n' + _fmt(cycles)


def _forbidden_imports(path: str) -> List[str]:
    """Imports of ``tests`` / ``tools`` anywhere in the file (also inside functions),
    and ``importlib.import_module('tests...' / 'tools...')`` with a literal name."""
    with open(path, encoding='utf-8') as f:
        tree = ast.parse(f.read(), filename=path)

    def bad(name):
        return bool(name) and name.split('.')[0] in FORBIDDEN

    hits = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names = [node.module]
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and getattr(node.func, 'attr', getattr(node.func, 'id', None))
              in ('import_module', '__import__')):
            names = [node.args[0].value]
        hits += [f'{osp.relpath(path, ROOT)}:{node.lineno}: {n}' for n in names if bad(n)]
    return hits


def test_library_does_not_import_tests_or_tools():
    hits = [h for path in MODULES.values() for h in _forbidden_imports(path)]
    assert not hits, 'mmhad imports test / tool code:\n' + '\n'.join(hits)
