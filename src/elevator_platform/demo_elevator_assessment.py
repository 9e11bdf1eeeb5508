"""Demo data of the assessment (module elevator_assessment).

`generate(pool, rng, elevators)` computes, from the demo data of the other
modules (whichever are activated):
- the district assessment tables of the last four complete quarters, the
  three oldest published, the latest left in draft for the demo user to
  publish;
- the draft table of the current quarter;
- the maintenance units' credit evaluations of last year, published (the
  grades the public API serves), and of the current year, in draft.

Every figure is computed by the module's own set-based SQL, as the
bureau's users would do it from the web client.
"""
import datetime as dt


def _today():
    from trytond.modules.elevator_assessment.common import LOCAL_TZ
    return dt.datetime.now(LOCAL_TZ).date()


def generate(pool, rng, elevators, today=None):
    "The assessment demo (see the module docstring)."
    from trytond.modules.elevator_assessment.common import (
        add_months, period_bounds)
    from trytond.transaction import Transaction
    if not elevators:
        return
    Period = pool.get('elevator.assessment.period')
    Evaluation = pool.get('elevator.credit.evaluation')
    today = today or _today()
    current, _ = period_bounds('quarter', today)
    quarters = [period_bounds('quarter', add_months(current, -3 * i))
        for i in range(4, 0, -1)]
    periods = []
    for start, end in quarters + [period_bounds('quarter', current)]:
        period = Period.get_or_create('quarter', start, end)
        if period.state == 'draft':
            Period.compute([period])
        periods.append(period)
    Period.publish([p for p in periods[:3] if p.state == 'draft'])
    Transaction().commit()

    for year, publish in [(today.year - 1, True), (today.year, False)]:
        if Evaluation.search([('year', '=', year),
                    ('state', '=', 'published')], limit=1):
            continue
        evaluations = Evaluation.evaluate(year)
        if publish and evaluations:
            Evaluation.publish(evaluations)
