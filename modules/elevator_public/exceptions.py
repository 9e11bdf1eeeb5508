from trytond.exceptions import UserError


class FeedbackError(UserError):
    pass
