"""Tests of ``convzoo.assemble``, one file per module."""
