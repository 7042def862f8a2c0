"""Trace files (reference/traces/ formats) read into arrays, and every fault refused in one line."""
import numpy as np
import pytest

from model.app.traces import read_trace
from model.errors import ConfigError
from tests.helpers import ROOT

REFERENCE = ROOT.parent / "shared" / "reference" / "traces"


def test_azure_csv_in_arrival_order_from_zero(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                    "2023-11-16 18:17:05.5000000,300,3\n"
                    "2023-11-16 18:17:03.0000000,100,1\n"
                    "2023-11-16 18:18:03.2500000,200,2\n")
    t = read_trace(path)
    np.testing.assert_allclose(t.arrival_s, [0.0, 2.5, 60.25])
    assert t.input_tokens.tolist() == [100, 300, 200] and t.output_tokens.tolist() == [1, 3, 2]
    assert not t.has_blocks and t.duration_s == pytest.approx(60.25)


def test_mooncake_jsonl_keeps_each_requests_blocks(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"timestamp": 1500, "input_length": 1024, "output_length": 5, "hash_ids": [0, 2]}\n'
                    '{"timestamp": 500, "input_length": 600, "output_length": 7, "hash_ids": [0, 1]}\n\n'
                    '{"timestamp": 2500, "input_length": 100, "output_length": 9, "hash_ids": [3]}\n')
    t = read_trace(path)
    np.testing.assert_allclose(t.arrival_s, [0.0, 1.0, 2.0])
    assert t.input_tokens.tolist() == [600, 1024, 100]
    assert [t.blocks(i).tolist() for i in range(3)] == [[0, 1], [0, 2], [3]]
    assert t.block_tokens == 512


@pytest.mark.parametrize("text, says", [
    ("", "unknown format"),
    ("a,b,c\n1,2,3\n", "unknown format"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n", "no requests"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,1,2\n", "not a date"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03,-5,2\n", "whole number"),
    ("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03,nan,2\n", "whole number"),
    ('{"timestamp": 0, "input_length": 10}\n', "lacks one of"),
    ('{"timestamp": 0, "input_length": 10, "output_length": 1}\n{oops\n', "not JSON"),
    ('{"timestamp": "x", "input_length": 10, "output_length": 1}\n', "not a number of ms"),
    ('{"timestamp": 0, "input_length": 10, "output_length": 1, "hash_ids": "ab"}\n', "list of integers"),
])
def test_a_bad_trace_is_one_line_naming_the_key(tmp_path, text, says):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        read_trace(path, key="fleet.trace")
    message = str(err.value)
    assert message.startswith("fleet.trace=") and says in message and "\n" not in message


def test_missing_and_binary_files_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        read_trace(tmp_path / "nope.csv")
    (tmp_path / "b.bin").write_bytes(bytes(range(256)))
    with pytest.raises(ConfigError, match="not a text file"):
        read_trace(tmp_path / "b.bin")


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="shared/reference/traces not beside the repository")
def test_the_reference_traces():
    azure = read_trace(REFERENCE / "azure-llm-2023-code.csv")
    assert len(azure) == 8819 and 3400 < azure.duration_s < 3600
    mooncake = read_trace(REFERENCE / "mooncake-conversation.jsonl")
    assert len(mooncake) == 12031 and mooncake.has_blocks
    # one id per 512-token block: a request's blocks cover its input
    counts = np.diff(mooncake.block_offsets)
    assert (counts == np.ceil(mooncake.input_tokens / 512)).mean() > 0.99
