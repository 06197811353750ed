import pytest

from backend.config.env import env_bool, env_int, env_list, env_str


def test_env_str_falls_back_to_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("X_TEST", raising=False)
    assert env_str("X_TEST", "d") == "d"
    monkeypatch.setenv("X_TEST", "v")
    assert env_str("X_TEST", "d") == "v"


@pytest.mark.parametrize(
    ("raw", "value"), [("1", True), ("TRUE", True), ("off", False), ("", False)]
)
def test_env_bool_reads_common_spellings(
    monkeypatch: pytest.MonkeyPatch, raw: str, value: bool
) -> None:
    monkeypatch.setenv("X_TEST", raw)
    assert env_bool("X_TEST") is value


def test_env_bool_refuses_anything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_TEST", "maybe")
    with pytest.raises(ValueError, match="X_TEST must be a boolean"):
        env_bool("X_TEST")


def test_env_int_reads_integers_and_refuses_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_TEST", "42")
    assert env_int("X_TEST", 1) == 42
    monkeypatch.setenv("X_TEST", "4.2")
    with pytest.raises(ValueError, match="X_TEST must be an integer"):
        env_int("X_TEST", 1)


def test_env_int_refuses_a_value_below_its_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_TEST", "-1")
    assert env_int("X_TEST", 1) == -1
    with pytest.raises(ValueError, match="X_TEST must be 0 or more, not -1"):
        env_int("X_TEST", 1, minimum=0)
    monkeypatch.setenv("X_TEST", "0")
    assert env_int("X_TEST", 1, minimum=0) == 0


def test_env_int_refuses_a_value_above_its_maximum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_TEST", "65536")
    with pytest.raises(ValueError, match="X_TEST must be 65535 or less, not 65536"):
        env_int("X_TEST", 1, maximum=65535)
    monkeypatch.setenv("X_TEST", "65535")
    assert env_int("X_TEST", 1, maximum=65535) == 65535


def test_env_list_splits_on_commas_and_drops_blanks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("X_TEST", "http://a.test, ,http://b.test,")
    assert env_list("X_TEST") == ["http://a.test", "http://b.test"]
    monkeypatch.delenv("X_TEST")
    assert env_list("X_TEST", ["d"]) == ["d"]
