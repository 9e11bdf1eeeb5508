"""The Tryton modules of modules/ never import the platform's package
src/elevator_platform (the CLI, the MQTT transport, the importer front end,
the demo generators): a module works in any trytond with only its
dependencies, and src/ builds on the modules, not the other way round.

Reads the sources (every import statement, also inside functions); needs
no database.
"""
import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = ROOT / 'modules'

# An import in a doctest scenario: ">>> from x import y", ">>> import x".
DOCTEST_IMPORT = re.compile(
    r'^\s*(?:>>>|\.\.\.)\s+(?:from\s+([\w.]+)\s+import|import\s+([\w.]+))',
    re.MULTILINE)


def imports(path):
    """The absolute module names imported by the Python file or doctest
    scenario at path."""
    if path.suffix == '.rst':
        for match in DOCTEST_IMPORT.finditer(
                path.read_text(encoding='utf-8')):
            yield match.group(1) or match.group(2)
        return
    tree = ast.parse(path.read_text(encoding='utf-8'), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom) and not node.level:
            yield node.module


def platform_imports():
    "{file under modules/: {imported elevator_platform modules}}."
    found = {}
    for path in sorted([*MODULES.rglob('*.py'), *MODULES.rglob('*.rst')]):
        names = {n for n in imports(path)
            if n == 'elevator_platform' or n.startswith('elevator_platform.')}
        if names:
            found[path.relative_to(MODULES).as_posix()] = names
    return found


def test_modules_do_not_import_elevator_platform():
    "No exception: what a module needs lives in a module."
    offenders = {path: sorted(names)
        for path, names in platform_imports().items()}
    assert not offenders, (
        "modules/ must not import src/elevator_platform: "
        f"{offenders}")


def test_the_check_sees_imports(tmp_path):
    "The reader finds imports at module level and inside functions."
    source = tmp_path / 'example.py'
    source.write_text(
        'import elevator_platform.cli\n'
        'def f():\n'
        '    from elevator_platform.iot import push\n'
        '    from . import sibling\n')
    assert set(imports(source)) == {
        'elevator_platform.cli', 'elevator_platform.iot'}
    scenario = tmp_path / 'scenario.rst'
    scenario.write_text(
        'Text about elevator_platform.\n\n'
        '    >>> from elevator_platform.iot.ingest import Ingestor\n'
        '    >>> import elevator_platform.cli\n')
    assert set(imports(scenario)) == {
        'elevator_platform.iot.ingest', 'elevator_platform.cli'}
