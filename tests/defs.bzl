"""One py_test per tests/<module>_test.py, depending on the radars_tf package."""

def radars_py_test(name, size = "small", tags = [], data = [], shard_count = None):
    native.py_test(
        name = name,
        srcs = [name + ".py"],
        main = name + ".py",
        size = size,
        tags = tags,
        data = data,
        shard_count = shard_count,
        python_version = "PY3",
        srcs_version = "PY3",
        deps = ["//radars_tf", ":cli"],
        # As radars_tf/__init__.py sets it; a test module imports TensorFlow first.
        env = {"TF_ENABLE_ONEDNN_OPTS": "1"},
    )
