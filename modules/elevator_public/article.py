"""Knowledge articles published by the bureau: safe riding, what to do when
trapped, escalator safety. Plain text (paragraphs separated by blank
lines), shown escaped on the public pages."""
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.modules.elevator.workflow import Workflow
from trytond.pool import Pool
from trytond.pyson import Eval

CATEGORIES = [
    ('safe_riding', "Safe Riding"),
    ('trapped', "When Trapped"),
    ('escalator', "Escalator Safety"),
    ('children', "Children and Elderly"),
    ('other', "Other"),
    ]
STATES = [
    ('draft', "Draft"),
    ('published', "Published"),
    ('archived', "Archived"),
    ]


class Article(Workflow, ModelSQL, ModelView):
    "Knowledge Article"
    __name__ = 'elevator.knowledge.article'
    _rec_name = 'title'

    title = fields.Char("Title", required=True, size=100)
    category = fields.Selection(CATEGORIES, "Category", required=True,
        sort=False)
    summary = fields.Char("Summary", size=200)
    body = fields.Text("Body", required=True,
        help="Plain text; a blank line starts a new paragraph.")
    sequence = fields.Integer("Sequence")
    state = fields.Selection(STATES, "State", readonly=True, required=True,
        sort=False)
    published_date = fields.Date("Published", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.state, Index.Equality()),
                (t.sequence, Index.Range())))
        cls._order = [('sequence', 'ASC NULLS LAST'), ('id', 'ASC')]
        cls._transitions |= {
            ('draft', 'published'),
            ('published', 'archived'),
            ('archived', 'draft'),
            ('published', 'draft'),
            }
        cls._buttons.update({
                'draft': {
                    'invisible': Eval('state') == 'draft',
                    'icon': 'tryton-back',
                    'depends': ['state'],
                    },
                'publish': {
                    'invisible': Eval('state') != 'draft',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'archive': {
                    'invisible': Eval('state') != 'published',
                    'icon': 'tryton-archive',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_category(cls):
        return 'safe_riding'

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def draft(cls, articles):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('published')
    def publish(cls, articles):
        Date = Pool().get('ir.date')
        unpublished = [a for a in articles if not a.published_date]
        if unpublished:
            cls.write(unpublished, {'published_date': Date.today()})

    @classmethod
    @ModelView.button
    @Workflow.transition('archived')
    def archive(cls, articles):
        pass
