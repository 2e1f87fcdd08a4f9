from graphql import parse

from gateway.executor import _measure


def test_depth_and_size_count_through_fragments():
    document = parse("""
      query { a { b { ...F } } x }
      fragment F on T { c { d } e }
    """)
    assert _measure(document) == (4, 6)
