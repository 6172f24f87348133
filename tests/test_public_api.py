"""Every public function, class and method of the package has a docstring (the docs'
API reference is generated from them), and the CLI's verb modules stay small."""

import ast
import pathlib

import keras_attngan

PACKAGE = pathlib.Path(keras_attngan.__file__).parent
#: Keras hooks a subclass overrides; Keras documents them
KERAS_HOOKS = {"call", "get_config", "build", "compute_output_shape", "from_config",
               "on_epoch_end", "on_epoch_begin", "on_train_begin", "on_train_end",
               "on_train_batch_end", "on_train_batch_begin", "train_step", "update_state",
               "result", "reset_state", "get_compile_config", "compile_from_config",
               "metrics", "generator_variables", "discriminator_variables"}


def undocumented(source: str) -> list[str]:
    missing = []

    def visit(body, prefix, in_class):
        for node in body:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            if node.name.startswith("_") or (in_class and node.name in KERAS_HOOKS):
                continue
            if ast.get_docstring(node) is None:
                missing.append(f"{prefix}{node.name} (line {node.lineno})")
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{prefix}{node.name}.", True)

    visit(ast.parse(source).body, "", False)
    return missing


def test_the_checker_finds_a_missing_docstring():
    assert undocumented("def f():\n    return 1\n") == ["f (line 1)"]
    assert undocumented("class A:\n    '''A.'''\n    def g(self):\n        pass\n") == \
        ["A.g (line 3)"]
    assert undocumented("def _private():\n    pass\n") == []


def test_every_public_name_has_a_docstring():
    missing = {str(path.relative_to(PACKAGE)): undocumented(path.read_text())
               for path in sorted(PACKAGE.rglob("*.py"))}
    missing = {path: names for path, names in missing.items() if names}
    assert not missing, missing


def test_cli_verb_modules_stay_small():
    sizes = {path.name: len(path.read_text().splitlines())
             for path in (PACKAGE / "cli").glob("*.py")}
    assert {"train.py", "translate.py", "export.py", "evaluate.py", "demo.py",
            "bench.py"} <= set(sizes)
    assert max(sizes.values()) <= 210, sizes
    assert len((PACKAGE / "models" / "base.py").read_text().splitlines()) <= 450
