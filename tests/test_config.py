"""The operator's config: every mistake names the key and the line."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import apply_environment, load_config, parse_config, read_token
from bot.errors import ConfigError
from bot.toml_lines import key_lines

ROOT = Path(__file__).resolve().parents[1]


def test_example_config_is_valid_and_documents_defaults() -> None:
    config = load_config(ROOT / "config.example.toml")
    assert config.timezone == "UTC"
    assert config.storage_path == ROOT / "data" / "seminar-bot.db"
    (feed,) = config.feeds
    assert feed.name == "cs-seminar"
    assert feed.poll_interval == timedelta(minutes=15)
    assert feed.reminder_offsets == (timedelta(days=1), timedelta(minutes=15))
    assert feed.channel_id is None and feed.mention_role_id is None


def test_feed_overrides_defaults() -> None:
    config = parse_config(
        """
[defaults]
poll_interval = "30m"
[[feeds]]
name = "talks"
url = "webcal://example.org/cal.ics"
channel_id = "123456789012345678"
announce_window = "3d"
reminder_offsets = ["15m", "1h30m"]
include = ["Seminar"]
"""
    )
    (feed,) = config.feeds
    assert feed.poll_interval == timedelta(minutes=30)
    assert feed.announce_window == timedelta(days=3)
    assert feed.reminder_offsets == (timedelta(hours=1, minutes=30), timedelta(minutes=15))
    assert feed.channel_id == 123456789012345678
    assert feed.include == ("Seminar",)


def test_a_feed_can_carry_its_own_seminar_pattern() -> None:
    config = parse_config(
        '[[feeds]]\nname = "a"\nurl = "u"\n'
        "seminar_summary_pattern = '^(?P<title>.+?) \\| (?P<speaker>.+)$'\n"
    )
    (feed,) = config.feeds
    assert feed.seminar_summary_pattern == "^(?P<title>.+?) \\| (?P<speaker>.+)$"
    assert feed.seminar_description_pattern == ""


def test_a_feed_can_carry_card_templates() -> None:
    config = parse_config(
        '[[feeds]]\nname = "a"\nurl = "u"\n'
        'title_template = "{series}: {speaker} — {title}"\nlead_template = "{place}"\n'
    )
    (feed,) = config.feeds
    assert feed.title_template == "{series}: {speaker} — {title}"
    assert feed.lead_template == "{place}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[defaults]\npoll_interval = "15x"\n',
            "line 2: defaults.poll_interval: '15x' is not a duration",
        ),
        ('[defaults]\ntimezone = "Mars/Base"\n', "defaults.timezone: unknown time zone"),
        ('[storage]\npaht = "x.db"\n', "line 2: storage.paht: unknown setting"),
        ('[[feeds]]\nname = "Bad Name"\nurl = "x"\n', "line 2: feeds[0].name"),
        ('[[feeds]]\nname = "ok"\n', "feeds[0].url: required"),
        ('[[feeds]]\nname = "ok"\nurl = "u"\nchannel_id = "abc"\n', "line 4: feeds[0].channel_id"),
        ('[discord]\ntoken = "abc"\n', "never put the token in the config file"),
        ('[discord]\ngateway_url = "http://x"\n', "discord.gateway_url: expected a ws or wss URL"),
        ('[logging]\nlevel = "LOUD"\n', "logging.level"),
        ("[defaults\n", "not valid TOML"),
        (
            '[[feeds]]\nname = "a"\nurl = "u"\n[[feeds]]\nname = "a"\nurl = "v"\n',
            "two feeds are named 'a'",
        ),
        ('[[feeds]]\nname = "a"\nurl = "u"\npoll_interval = "10s"\n', "at least 1 minute"),
        (
            '[[feeds]]\nname = "a"\nurl = "u"\nseminar_summary_pattern = \'(?P<speaker>\'\n',
            "line 4: feeds[0].seminar_summary_pattern: seminar_summary_pattern is not a valid",
        ),
        (
            '[[feeds]]\nname = "a"\nurl = "u"\nseminar_description_pattern = \'(?P<who>.+)\'\n',
            "unknown group name(s) who",
        ),
        (
            '[[feeds]]\nname = "a"\nurl = "u"\ntitle_template = "{who}: {title}"\n',
            "line 4: feeds[0].title_template: unknown field {who}; the fields are title,",
        ),
        (
            '[[feeds]]\nname = "a"\nurl = "u"\nlead_template = "{speaker}' + "x" * 300 + '"\n',
            "line 4: feeds[0].lead_template: the template is 309 characters; at most 300",
        ),
        (
            '[[feeds]]\nname = "a"\nurl = "u"\ntitle_templte = "{title}"\n',
            "line 4: feeds[0].title_templte: unknown setting",
        ),
    ],
)
def test_mistakes_are_reported_with_key_and_line(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    assert expected in str(info.value)


def test_token_comes_from_environment_or_file_and_is_never_echoed(tmp_path: Path) -> None:
    config = parse_config("")
    secret = "MTIzNDU2Nzg5MDEyMzQ1Njc4.secret.token-value"
    assert read_token(config.discord, {"DISCORD_TOKEN": secret}) == secret
    token_file = tmp_path / "token"
    token_file.write_text(secret + "\n")
    assert read_token(config.discord, {"DISCORD_TOKEN_FILE": str(token_file)}) == secret
    with pytest.raises(ConfigError, match="DISCORD_TOKEN"):
        read_token(config.discord, {})
    with pytest.raises(ConfigError) as info:
        read_token(config.discord, {"DISCORD_TOKEN": "short bad"})
    assert "short bad" not in str(info.value)


def _problems(text: str, **options: bool) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(text, **options)
    return str(info.value)


def _line_of(text: str, needle: str, occurrence: int = 1) -> int:
    lines = [n for n, line in enumerate(text.splitlines(), start=1) if line.startswith(needle)]
    return lines[occurrence - 1]


TWO_FEEDS = """\
[[feeds]]
name = "first"
url = "https://a.example/cal.ics"
channel_id = 111111111111111111
guild_id = 222222222222222222
poll_interval = "15m"

[[feeds]]
name = "second"
url = "https://b.example/cal.ics"
channel_id = 333333333333333333
guild_id = 222222222222222222
"""


@pytest.mark.parametrize(
    ("text", "key", "suggestion"),
    [
        ("storgae = 1\n", "storgae", "'storage'"),
        ('[storage]\npaht = "x.db"\n', "storage.paht", "'path'"),
        ('[defaults]\ntimezon = "UTC"\n', "defaults.timezon", "'timezone'"),
        ("[discord]\nsheduled_events = true\n", "discord.sheduled_events", "'scheduled_events'"),
        ('[logging]\nlvl = "INFO"\n', "logging.lvl", "'level'"),
        (TWO_FEEDS + 'pol_interval = "30m"\n', "feeds[1].pol_interval", "'poll_interval'"),
        (TWO_FEEDS + "chanel_id = 4\n", "feeds[1].chanel_id", "'channel_id'"),
    ],
)
def test_unknown_keys_are_refused_in_every_table_with_a_suggestion(
    text: str, key: str, suggestion: str
) -> None:
    line = len(text.splitlines())
    message = _problems(text)
    assert f"line {line}: {key}: unknown setting (did you mean {suggestion}?)" in message


def test_an_error_in_the_second_feed_names_the_second_feed_s_line() -> None:
    text = TWO_FEEDS + 'poll_interval = "10x"\n'
    message = _problems(text)
    assert f"line {len(text.splitlines())}: feeds[1].poll_interval" in message
    # The first table's poll_interval (a valid one) is not where the mistake is.
    assert f"line {_line_of(text, 'poll_interval')}:" not in message


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("channel_id = true", "channel_id"),
        ("guild_id = 1.5", "guild_id"),
        ("mention_role_id = false", "mention_role_id"),
        ('channel_id = "12ab"', "channel_id"),
        ("channel_id = -5", "channel_id"),
    ],
)
def test_ids_must_be_whole_numbers_never_booleans_or_floats(value: str, key: str) -> None:
    first, second = TWO_FEEDS.split("\n\n")
    second = "\n".join(line for line in second.splitlines() if not line.startswith(f"{key} ="))
    text = f"{first}\n\n{second}\n{value}\n"
    message = _problems(text)
    assert f"line {_line_of(text, value)}: feeds[1].{key}:" in message
    assert "Discord id" in message


def test_command_guild_ids_refuses_booleans_and_floats() -> None:
    message = _problems("[discord]\ncommand_guild_ids = [true, 1.5, 123456789012345678]\n")
    assert "line 2: discord.command_guild_ids: true is not a Discord id" in message
    assert "line 2: discord.command_guild_ids: float 1.5 is not a Discord id" in message
    config = parse_config('[discord]\ncommand_guild_ids = [123456789012345678, "42"]\n')
    assert config.discord.command_guild_ids == (123456789012345678, 42)


def test_booleans_and_numbers_are_not_interchangeable() -> None:
    message = _problems(
        '[discord]\nscheduled_events = 1\n[[feeds]]\nname = "a"\nurl = "u"\npaused = 0\n'
    )
    assert "line 2: discord.scheduled_events: expected true or false, got int 1" in message
    assert "line 6: feeds[0].paused: expected true or false, got int 0" in message


def test_every_problem_of_the_file_is_reported_at_once() -> None:
    text = (
        "colour = 1\n"
        '[defaults]\npoll_interval = "5x"\n'
        '[logging]\nlevel = "LOUD"\n' + TWO_FEEDS + "chanel_id = 4\n"
    )
    message = _problems(text)
    assert message.startswith("<config>: 4 problems:")
    reported = [line.strip() for line in message.splitlines()[1:]]
    assert [r.split(": ")[1] for r in reported] == [
        "colour",
        "defaults.poll_interval",
        "logging.level",
        "feeds[1].chanel_id",
    ]
    assert [int(r.split(", line ")[1].split(":")[0]) for r in reported] == [1, 3, 5, 18]


def test_a_feed_without_channel_or_server_is_refused_where_routing_is_required() -> None:
    example = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    message = _problems(example, require_routing=True)
    assert f"line {_line_of(example, 'channel_id = 0')}: feeds[0].channel_id: set the id" in message
    assert "Copy Channel ID" in message
    assert f"line {_line_of(example, 'guild_id = 0')}: feeds[0].guild_id: set the id" in message
    assert "Copy Server ID" in message
    without = TWO_FEEDS.replace("channel_id = 333333333333333333\n", "")
    message = _problems(without, require_routing=True)
    assert "feeds[1].channel_id: set the id" in message and "feeds[0]" not in message
    # A dry run needs no channel: the example previews as it is.
    assert parse_config(example).feeds[0].channel_id is None


def test_a_wrong_id_is_reported_once_not_also_as_missing() -> None:
    text = TWO_FEEDS.replace("channel_id = 333333333333333333", "channel_id = true")
    message = _problems(text, require_routing=True)
    assert message.count("feeds[1].channel_id") == 1


def test_database_path_from_the_environment_overrides_the_config() -> None:
    config = parse_config('[storage]\npath = "/srv/bot.db"\n')
    assert apply_environment(config, {}).storage_path == Path("/srv/bot.db")
    moved = apply_environment(config, {"SEMINAR_BOT_DB": "/data/seminar-bot.db"})
    assert moved.storage_path == Path("/data/seminar-bot.db")


def test_check_config_names_the_database_run_will_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[storage]\npath = "local.db"\n', encoding="utf-8")
    monkeypatch.setenv("SEMINAR_BOT_DB", str(tmp_path / "volume" / "seminar-bot.db"))
    assert main(["check-config", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"database {tmp_path / 'volume' / 'seminar-bot.db'} (from SEMINAR_BOT_DB)" in out
    assert "local.db" not in out


@pytest.mark.parametrize(
    ("text", "path", "line"),
    [
        # A multi-line string holding text that looks like a header and a key.
        ('[[feeds]]\nname = """\n[[feeds]]\nurl = 1\n"""\nurl = "u"\n', ("feeds", 0, "url"), 6),
        # A multi-line array whose items look like a table header and a key.
        (
            '[discord]\nx = [\n  "[logging]",\n  "level = 1",\n]\nlevel = 2\n',
            ("discord", "level"),
            6,
        ),
        ("[a]\n'quoted.key' = 1\n", ("a", "quoted.key"), 2),
        ("[[feeds]]\n[[feeds]]\n\n[[feeds]]\nname = 1\n", ("feeds", 2, "name"), 5),
        (
            "[[feeds]]\n[feeds.extra]\nk = 1\n[[feeds]]\n[feeds.extra]\nk = 2\n",
            ("feeds", 1, "extra", "k"),
            6,
        ),
        ('a.b = 1 # [x]\n[t] # comment\nc = "#"\n', ("t", "c"), 3),
    ],
)
def test_key_lines_follow_the_toml_structure(
    text: str, path: tuple[str | int, ...], line: int
) -> None:
    import tomllib

    tomllib.loads(text)  # the scanner is only ever given valid TOML
    assert key_lines(text)[path] == line


def test_run_refuses_a_feed_that_could_never_post(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A token is present, so only the config stands between `run` and a silent feed.
    monkeypatch.setenv("DISCORD_TOKEN", "MTIzNDU2Nzg5MDEyMzQ1Njc4.GsEcRt.not-a-real-secret")
    assert main(["run", "--config", str(ROOT / "config.example.toml")]) == 2
    err = capsys.readouterr().err
    assert "feeds[0].channel_id: set the id of the channel" in err
    assert "not-a-real-secret" not in err


def test_a_token_pasted_into_an_id_is_not_echoed() -> None:
    secret = "MTIzNDU2Nzg5MDEyMzQ1Njc4.GsEcRt.abcdefghijklmnopqrstuvwxyz0123"
    message = _problems(f'[discord]\nadmin_role_id = "{secret}"\n')
    assert f"line 2: discord.admin_role_id: a {len(secret)}-character string is not" in message
    assert secret[:10] not in message


def test_a_single_bracket_feeds_table_gets_a_hint() -> None:
    message = _problems('[feeds]\nname = "a"\nurl = "u"\n')
    assert "line 1: feeds: write each feed as a [[feeds]] table (double brackets)" in message
    assert message.count("\n") == 0  # one problem, not one per key inside it


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'timezone = "UTC"\n',
            "line 1: timezone: unknown setting (it belongs in [defaults] or a [[feeds]] table)",
        ),
        (
            '[discord]\npoll_interval = "5m"\n',
            "line 2: discord.poll_interval: unknown setting (it belongs in [defaults] or a [[feeds]] table)",
        ),
        (
            "[discord]\nchannel_id = 5\n",
            "line 2: discord.channel_id: unknown setting (it belongs in a [[feeds]] table; or did you mean 'admin_channel_id'?)",
        ),
        (
            '[[feeds]]\nname = "a"\nurl = "u"\napi_base_url = "http://x"\n',
            "line 4: feeds[0].api_base_url: unknown setting (it belongs in [discord])",
        ),
    ],
)
def test_a_setting_in_the_wrong_table_is_pointed_to_its_table(text: str, expected: str) -> None:
    assert expected in _problems(text)


def test_only_ascii_digits_make_an_id() -> None:
    message = _problems('[[feeds]]\nname = "a"\nurl = "u"\nchannel_id = "١٢٣"\n')
    assert "line 4: feeds[0].channel_id: '١٢٣' is not a Discord id" in message


def test_talk_threads_is_off_by_default_and_a_strict_boolean() -> None:
    config = parse_config(TWO_FEEDS + "talk_threads = true\n")
    assert [f.talk_threads for f in config.feeds] == [False, True]
    text = TWO_FEEDS + 'talk_threads = "yes"\n'
    message = _problems(text)
    assert (
        f"line {len(text.splitlines())}: feeds[1].talk_threads: expected true or false, got"
        in message
    )
    assert "(did you mean 'talk_threads'?)" in _problems(TWO_FEEDS + "talk_thread = true\n")
