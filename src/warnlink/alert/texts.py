"""Public warning texts in English, Japanese and Korean, in the style of the real ones.

Japanese follows J-Alert's missile messages (the stage repeated twice, then what may
happen and what to do: "ミサイル発射情報。ミサイル発射情報。当地域に着弾する可能性が
あります。屋内に避難し、テレビ・ラジオをつけてください。"); Korean the Ministry of the
Interior and Safety's emergency alerts ("[행정안전부] 오늘 07:22 북한 미사일 발사. ...",
the sender in brackets first); English the plain style of US Wireless Emergency Alerts.
Times are local (the policy's UTC offset). The templates are data: one table per
language, keyed by stage, filled from a few named values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

from warnlink.alert.areas import ImpactPlace
from warnlink.alert.policy import AlertPolicy

Stage = Literal[
    "launch", "impact_expected", "overflight_expected", "passed", "fell", "lifted", "all_clear"
]
Lang = Literal["en-US", "ja-JP", "ko-KR"]


@dataclass(frozen=True)
class Text:
    """The CAP info texts of one stage in one language."""

    event: str
    headline: str
    description: str
    instruction: str


COUNTRY: dict[str, dict[str, str]] = {
    "en-US": {"JP": "Japan", "KR": "South Korea", "KP": "North Korea", "GU": "Guam"},
    "ja-JP": {"JP": "日本", "KR": "韓国", "KP": "北朝鮮", "GU": "グアム"},
    "ko-KR": {"JP": "일본", "KR": "한국", "KP": "북한", "GU": "괌"},
}

# event, headline, description, instruction; {time} local HH:MM, {origin} "from X " or "".
TEMPLATES: dict[str, dict[Stage, tuple[str, str, str, str]]] = {
    "en-US": {
        "launch": (
            "Missile launch", "Missile launch",
            "Missile launch. A missile appears to have been launched {origin}at {time}.",
            "Take shelter inside a building or underground immediately.",
        ),
        "impact_expected": (
            "Missile launch", "Missile may land in this area",
            "Missile launch. A missile may land in this area around {time}.",
            "Take shelter inside a building or underground immediately, "
            "and turn on the TV or radio.",
        ),
        "overflight_expected": (
            "Missile launch", "Missile may pass over this area",
            "Missile launch. A missile may pass over this area around {time}.",
            "Take shelter inside a building or underground immediately.",
        ),
        "passed": (
            "Missile passed", "Missile passed over this area",
            "Missile passed. A missile appears to have passed over this area at {time}.",
            "If you find a suspicious object, do not approach it; "
            "report it to the police or fire department immediately.",
        ),
        "fell": (
            "Missile fell", "Missile fell", "Missile fell. {where}",
            "If you find a suspicious object, do not approach it; "
            "report it to the police or fire department immediately.",
        ),
        "lifted": (
            "Missile warning lifted", "Correction: this area is no longer at risk",
            "Correction. The missile is no longer expected to reach this area ({time}).",
            "The earlier missile warning for this area is lifted.",
        ),
        "all_clear": (
            "Missile warning ended", "All clear",
            "All clear. The missile warning of {time} has ended.",
            "You may resume normal activities.",
        ),
    },
    "ja-JP": {
        "launch": (
            "ミサイル発射情報", "ミサイル発射情報",
            "ミサイル発射情報。ミサイル発射情報。{time}頃、{origin}ミサイルが発射されたものとみられます。",
            "建物の中、又は地下に避難してください。",
        ),
        "impact_expected": (
            "ミサイル発射情報", "ミサイル発射情報（着弾のおそれ）",
            "ミサイル発射情報。ミサイル発射情報。当地域に着弾する可能性があります。"
            "着弾の予想時刻は{time}頃です。",
            "屋内に避難し、テレビ・ラジオをつけてください。",
        ),
        "overflight_expected": (
            "ミサイル発射情報", "ミサイル発射情報（上空通過のおそれ）",
            "ミサイル発射情報。ミサイル発射情報。当地域の上空をミサイルが通過する可能性があります。"
            "通過の予想時刻は{time}頃です。",
            "建物の中、又は地下に避難してください。",
        ),
        "passed": (
            "ミサイル通過", "ミサイル通過",
            "ミサイル通過。ミサイル通過。{time}頃、この地域の上空をミサイルが通過した模様です。",
            "不審な物を発見した場合には、決して近寄らず、直ちに警察や消防などに連絡してください。",
        ),
        "fell": (
            "ミサイル落下", "ミサイル落下", "ミサイル落下。ミサイル落下。{where}",
            "不審な物を発見した場合には、決して近寄らず、直ちに警察や消防などに連絡してください。",
        ),
        "lifted": (
            "ミサイル情報の訂正", "ミサイル情報の訂正",
            "ミサイル情報の訂正。先程の当地域へのミサイル情報は、"
            "着弾・通過のおそれがなくなりました（{time}）。",
            "当地域への避難の呼びかけを解除します。",
        ),
        "all_clear": (
            "ミサイル情報の解除", "ミサイル情報の解除",
            "ミサイル情報の解除。{time}のミサイル発射情報による避難の呼びかけを解除します。",
            "通常の生活に戻ってください。",
        ),
    },
    "ko-KR": {
        "launch": (
            "미사일 발사", "미사일 발사 경보",
            "{sender} 오늘 {time} {origin}미사일 발사.",
            "국민께서는 즉시 가까운 건물 안이나 지하로 대피하여 주시기 바랍니다.",
        ),
        "impact_expected": (
            "미사일 발사", "미사일 낙하 가능성 경보",
            "{sender} 해당 지역에 미사일이 낙하할 가능성이 있습니다(예상 시각 {time}).",
            "즉시 가까운 건물 안이나 지하로 대피하고, TV·라디오를 켜 주시기 바랍니다.",
        ),
        "overflight_expected": (
            "미사일 발사", "미사일 상공 통과 가능성 경보",
            "{sender} 해당 지역 상공을 미사일이 통과할 가능성이 있습니다(예상 시각 {time}).",
            "국민께서는 즉시 가까운 건물 안이나 지하로 대피하여 주시기 바랍니다.",
        ),
        "passed": (
            "미사일 통과", "미사일 상공 통과",
            "{sender} {time}경 해당 지역 상공을 미사일이 통과한 것으로 보입니다.",
            "의심스러운 물체를 발견하면 절대 접근하지 말고 즉시 경찰이나 소방서에 신고하여 주시기 바랍니다.",
        ),
        "fell": (
            "미사일 낙하", "미사일 낙하", "{sender} {where}",
            "의심스러운 물체를 발견하면 절대 접근하지 말고 즉시 경찰이나 소방서에 신고하여 주시기 바랍니다.",
        ),
        "lifted": (
            "경보 해제", "경보 정정",
            "{sender} {time} 해당 지역은 미사일 도달 가능성이 없어졌습니다. 발령된 경보를 해제합니다.",
            "일상으로 복귀하시기 바랍니다.",
        ),
        "all_clear": (
            "경계경보 해제", "경계경보 해제",
            "{sender} 경계경보 해제. {time} 발령된 미사일 경보를 해제합니다.",
            "국민 여러분께서는 일상으로 복귀하시기 바랍니다.",
        ),
    },
}  # fmt: skip


def local_time(epoch: datetime, t: float, policy: AlertPolicy) -> datetime:
    """Scenario time t as an aware datetime in the authority's local time."""
    tz = timezone(timedelta(minutes=policy.offset_minutes))
    return (epoch + timedelta(seconds=t)).astimezone(tz)


def _where_fell(
    lang: str, place: ImpactPlace | None, on_our_land: bool, clock: str, policy: AlertPolicy
) -> str:
    """The sentence saying where it came down: here, in another country, or at sea."""
    home = COUNTRY[lang].get(policy.countries[0], policy.countries[0])
    if on_our_land or place is None:
        return {
            "en-US": f"A missile may have come down in this area at {clock}.",
            "ja-JP": f"{clock}頃、この地域にミサイルが落下した可能性があります。",
            "ko-KR": f"{clock}경 해당 지역에 미사일이 낙하했을 가능성이 있습니다.",
        }[lang]
    if place.on_land:
        there = COUNTRY[lang].get(place.country or "", "")
        return {
            "en-US": f"The missile appears to have come down on land{' in ' + there if there else ''} "
            f"at {clock}.",
            "ja-JP": f"{clock}頃、ミサイルは{there + 'の' if there else ''}陸地に落下したものとみられます。",
            "ko-KR": f"미사일은 {clock}경 {there + ' ' if there else ''}육지에 낙하한 것으로 추정됩니다.",
        }[lang]
    km = "" if not math.isfinite(place.distance_m) else f"{place.distance_m / 1e3:.0f}"
    waters = {
        "en-US": {
            "territorial": f"inside {home}'s territorial sea (12 nmi)",
            "eez": f"within 200 nmi of {home} (inside its exclusive economic zone), about {km} km "
            "from its coast",
            "outside": f"outside {home}'s exclusive economic zone (more than 200 nmi from its land)",
        },
        "ja-JP": {
            "territorial": f"{home}の領海内",
            "eez": f"{home}の排他的経済水域（EEZ）内、沿岸から約{km}kmの海域",
            "outside": f"{home}の排他的経済水域（EEZ）外の海域",
        },
        "ko-KR": {
            "territorial": f"{home} 영해 안",
            "eez": f"{home} 배타적 경제수역(EEZ) 안, 해안에서 약 {km}km 해상",
            "outside": f"{home} 배타적 경제수역(EEZ) 밖 해상",
        },
    }[lang][place.waters]
    return {
        "en-US": f"The missile appears to have fallen into the sea at {clock}, {waters}.",
        "ja-JP": f"{clock}頃、ミサイルは{waters}に落下したものとみられます。",
        "ko-KR": f"미사일은 {clock}경 {waters}에 낙하한 것으로 추정됩니다.",
    }[lang]


def _bracket_name(sender_name: str) -> str:
    """The sender in Korean texts' brackets: the Hangul form of "A / B" names if any."""
    names = [n.strip() for n in sender_name.split(" / ")]
    hangul = [n for n in names if any("\uac00" <= ch <= "\ud7a3" for ch in n)]
    return hangul[0] if hangul else names[-1]


def render(
    stage: Stage,
    lang: str,
    policy: AlertPolicy,
    epoch: datetime,
    t_event: float,
    origin: str | None = None,
    place: ImpactPlace | None = None,
    on_our_land: bool = False,
) -> Text:
    """The texts of a stage in a language; origin is the launch country code if known."""
    local = local_time(epoch, t_event, policy)
    clock = f"{local:%H時%M分}" if lang == "ja-JP" else f"{local:%H:%M}"
    sender = "[" + _bracket_name(policy.sender_name) + "]"
    there = COUNTRY[lang].get(origin or "", "")
    origin_text = {"en-US": f"from {there} ", "ja-JP": f"{there}から", "ko-KR": f"{there} "}[lang]
    event, headline, description, instruction = TEMPLATES[lang][stage]
    values = {
        "time": clock,
        "origin": origin_text if there else "",
        "sender": sender,
        "where": _where_fell(lang, place, on_our_land, clock, policy) if stage == "fell" else "",
    }
    return Text(event, headline, description.format(**values), instruction)
