"Platform-wide settings of the elevator registry."
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Id


class Configuration(ModelSingleton, ModelSQL, ModelView):
    "Elevator Configuration"
    __name__ = 'elevator.configuration'

    rescue_code_length = fields.Integer("Rescue Code Length", required=True,
        domain=[('rescue_code_length', '>=', 5),
            ('rescue_code_length', '<=', 7)],
        help="Number of digits of the rescue identification code "
        "(5 to 7 depending on the city).")
    rescue_code_sequence = fields.Many2One('ir.sequence',
        "Rescue Code Sequence",
        domain=[('sequence_type', '=',
                Id('elevator', 'sequence_type_rescue_code'))],
        help="Gives a rescue code to elevators registered without one.")
    inspection_warning_days = fields.Integer("Inspection Warning Days",
        required=True, help="Elevators due for inspection within this many "
        "days are flagged.")
    hotline = fields.Char("Emergency Hotline", required=True)
    public_url = fields.Char("Public URL", required=True,
        help="Base URL of the public H5 pages; the elevator's public token "
        "is appended for the QR code.")
    authority_name = fields.Char("Authority Name", required=True)
    platform_url = fields.Char("Platform URL",
        help="Address of the platform for the links in messages "
        "(e.g. https://96196.example.gov.cn/).")
    notification_language = fields.Many2One('ir.lang',
        "Notification Language",
        help="Language of the messages to people without a platform "
        "account (SMS, e-mail); Chinese by default.")
    attachment_max_size = fields.Integer("Attachment Size Limit (KB)",
        domain=['OR', ('attachment_max_size', '=', None),
            ('attachment_max_size', '>', 0)],
        help="Largest file a user may attach to a record.")

    def get_platform_url(self):
        url = self.platform_url or 'http://127.0.0.1:8000/'
        return url if url.endswith('/') else url + '/'

    def get_notification_language(self):
        if self.notification_language:
            return self.notification_language.code
        return 'zh_CN'

    sharing_export_limit = fields.Integer("Export Limit without Sharing",
        required=True, domain=[('sharing_export_limit', '>=', 0)],
        help="An export of more rows than this that contains personal data "
        "needs an approved data-sharing record for the exporting user's "
        "unit.")

    @classmethod
    def default_sharing_export_limit(cls):
        return 1000

    def get_sharing_export_limit(self):
        if self.sharing_export_limit is None:
            return self.default_sharing_export_limit()
        return self.sharing_export_limit

    @classmethod
    def default_attachment_max_size(cls):
        return 10 * 1024

    def get_attachment_max_size(self):
        return self.attachment_max_size or self.default_attachment_max_size()

    @classmethod
    def default_rescue_code_length(cls):
        return 6

    @classmethod
    def default_rescue_code_sequence(cls):
        pool = Pool()
        ModelData = pool.get('ir.model.data')
        try:
            return ModelData.get_id('elevator', 'sequence_rescue_code')
        except KeyError:
            return None

    @classmethod
    def default_inspection_warning_days(cls):
        return 30

    @classmethod
    def default_hotline(cls):
        return '96196'

    @classmethod
    def default_public_url(cls):
        return 'http://127.0.0.1:8000/demo/elevator/h5/e/'

    @classmethod
    def default_authority_name(cls):
        return "莆田市市场监督管理局"
