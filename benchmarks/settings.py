"""The production settings plus the benchmark's baseline route; nothing else differs."""

from compare_api.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.urls"
