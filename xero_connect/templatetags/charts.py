"""Tiny inline SVG pictures (no JavaScript, no external service).

`{% activity_bars exports failures %}` draws one column per day: exports in green going up,
failures in red going down from the same baseline, so a bad day stands out at a glance.
`{% sparkline values %}` draws a plain line.
"""
from django import template
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

register = template.Library()

OK = "#1f9d55"
BAD = "#d0312d"
LINE = "#0a6f93"
AXIS = "#c9d2dc"


def _numbers(values) -> list[float]:
    out = []
    for value in values or []:
        try:
            out.append(max(0.0, float(value)))
        except (TypeError, ValueError):
            out.append(0.0)
    return out


@register.simple_tag
def sparkline(values, width=120, height=24, label=""):
    """A line through the values, scaled to the largest; flat at the bottom when all are zero."""
    numbers = _numbers(values)
    width, height = int(width), int(height)
    if not numbers:
        return ""
    top = max(numbers) or 1.0
    step = width / max(1, len(numbers) - 1)
    points = " ".join(f"{i * step:.1f},{height - 1 - (n / top) * (height - 2):.1f}" for i, n in enumerate(numbers))
    title = label or f"Last {len(numbers)} days: total {int(sum(numbers))}, peak {int(top if any(numbers) else 0)}"
    return format_html(
        '<svg class="sparkline" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{t}">'
        '<title>{t}</title><polyline fill="none" stroke="{c}" stroke-width="1.5" points="{p}"/></svg>',
        w=width, h=height, t=title, c=LINE, p=points,
    )


@register.simple_tag
def activity_bars(exports, failures, width=120, height=28):
    """Exports per day up (green) and failures per day down (red) from a middle baseline."""
    ups, downs = _numbers(exports), _numbers(failures)
    days = max(len(ups), len(downs))
    if not days:
        return ""
    ups += [0.0] * (days - len(ups))
    downs += [0.0] * (days - len(downs))
    width, height = int(width), int(height)
    base = round(height * 0.62)  # exports get more room than failures
    top = max(ups) or 1.0
    bottom = max(downs) or 1.0
    slot = width / days
    bar = max(1.0, slot - 1)
    rects = []
    for i, (up, down) in enumerate(zip(ups, downs)):
        x = i * slot
        if up:
            h = max(1.0, up / top * (base - 1))
            rects.append((f"{x:.1f}", f"{base - h:.1f}", f"{bar:.1f}", f"{h:.1f}", OK))
        if down:
            h = max(1.0, down / bottom * (height - base - 1))
            rects.append((f"{x:.1f}", f"{base + 1:.1f}", f"{bar:.1f}", f"{h:.1f}", BAD))
    title = (f"Last {days} days: {int(sum(ups))} exported, {int(sum(downs))} failed"
             + (f" (busiest day {int(max(ups))})" if any(ups) else ""))
    body = format_html_join("", '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"/>', rects)
    return format_html(
        '<svg class="activity" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" aria-label="{t}">'
        '<title>{t}</title><line x1="0" y1="{b}" x2="{w}" y2="{b}" stroke="{a}" stroke-width="1"/>{body}</svg>',
        w=width, h=height, t=title, b=base, a=AXIS, body=body or mark_safe(""),
    )
