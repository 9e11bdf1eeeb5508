"""OpenAPI 3.0 description of the public JSON API, served at
/{db}/elevator/public/v1/openapi.json. The contract tests
(tests/test_public_api.py) check the server against it."""
import copy

from .feedback import PHOTOS_MAX, TEXT_MAX, TYPE_CODES
from .rating import COMMENT_MAX


def _string(nullable=False, **kwargs):
    schema = {'type': 'string', **kwargs}
    if nullable:
        schema['nullable'] = True
    return schema


def _object(properties, required=None, nullable=False):
    schema = {
        'type': 'object',
        'properties': properties,
        'required': list(required if required is not None else properties),
        'additionalProperties': False,
        }
    if nullable:
        schema['nullable'] = True
    return schema


def _ref(name):
    return {'$ref': f'#/components/schemas/{name}'}


DATE = {'type': 'string', 'format': 'date'}
DATE_NULL = {**DATE, 'nullable': True}
DATETIME_NULL = {'type': 'string', 'format': 'date-time', 'nullable': True}

REPAIR = _object({
        'date': DATE,
        'kind': _string(description="Where the repair came from: fault "
            "(report of the public), iot, complaint, rescue, other"),
        'kind_name': _string(),
        'urgent': {'type': 'boolean'},
        'state': _string(),
        'state_name': _string(),
        'done_date': DATE_NULL,
        })

SCHEMAS = {
    'Error': _object({
            'error': _object({
                    'code': _string(),
                    'message': _string(),
                    'field': _string(),
                    }, required=['code', 'message']),
            }),
    'Unit': _object({
            'name': _string(),
            'public_phone': _string(nullable=True),
            }, nullable=True),
    'Elevator': _object({
            'registration_code': _string(),
            'rescue_code': _string(nullable=True),
            'certificate_number': _string(nullable=True,
                description="Number of the use registration certificate "
                "(使用登记证编号)"),
            'category': _string(),
            'category_name': _string(),
            'state': _string(enum=['draft', 'in_use', 'suspended',
                    'scrapped']),
            'state_name': _string(),
            'place': _string(nullable=True),
            'building': _string(nullable=True),
            'district': _string(nullable=True),
            'user_unit': _ref('Unit'),
            'maintenance_unit': _ref('Unit'),
            'last_maintenance': _object({
                    'date': DATE,
                    'type': _string(),
                    'type_name': _string(),
                    }, nullable=True),
            'repairs': {'type': 'array', 'items': REPAIR,
                'description': "Newest repair orders (at most 5), not "
                "cancelled"},
            'inspection': _object({
                    'last_date': DATE_NULL,
                    'conclusion': _string(nullable=True),
                    'conclusion_name': _string(nullable=True),
                    'next_due_date': DATE_NULL,
                    'status': _string(enum=['unknown', 'ok', 'due_soon',
                            'overdue']),
                    'status_name': _string(),
                    }),
            'monitored': {'type': 'boolean'},
            'remote_monitoring': {'type': 'boolean'},
            'video_monitoring': {'type': 'boolean'},
            'online': {'type': 'boolean', 'nullable': True},
            'safety_status': _string(enum=['normal', 'attention', 'warning',
                    'out_of_service']),
            'safety_status_name': _string(),
            'safety_notes': {'type': 'array', 'items': _object({
                        'code': _string(),
                        'message': _string(),
                        })},
            'hotline': _string(),
            }),
    'MaintenanceList': _object({
            'available': {'type': 'boolean'},
            'items': {'type': 'array', 'items': _object({
                        'date': DATE,
                        'type': _string(),
                        'type_name': _string(),
                        'state': _string(),
                        'state_name': _string(),
                        'duration_minutes': {'type': 'integer',
                            'nullable': True},
                        })},
            'repairs': {'type': 'array', 'items': REPAIR},
            }),
    'FeedbackInput': {
        'type': 'object',
        'properties': {
            'type': _string(enum=TYPE_CODES),
            'elevator': _string(maxLength=64,
                description="Rescue code or public token of the elevator"),
            'contact_phone': _string(maxLength=32,
                description="Mobile (11 digits) or fixed line with area "
                "code; kept for the call-back only, never published"),
            'text': _string(maxLength=TEXT_MAX),
            'photos': {'type': 'array', 'maxItems': PHOTOS_MAX,
                'items': _string(format='byte',
                    description="JPEG, PNG or WebP, at most 2 MB")},
            'urgent': {'type': 'boolean', 'description': "Fault report: "
                "the elevator is stopped or unsafe (shorter repair "
                "deadline)"},
            },
        'required': ['type', 'elevator', 'contact_phone', 'text'],
        'additionalProperties': False,
        },
    'Feedback': _object({
            'number': _string(),
            'type': _string(enum=TYPE_CODES),
            'type_name': _string(),
            'state': _string(enum=['received', 'assigned', 'replied',
                    'closed']),
            'state_name': _string(),
            'elevator': _object({
                    'rescue_code': _string(nullable=True),
                    'place': _string(nullable=True),
                    }),
            'submitted_at': DATETIME_NULL,
            'deadline': DATETIME_NULL,
            'reply': _string(nullable=True),
            'replied_at': DATETIME_NULL,
            'closed_at': DATETIME_NULL,
            'resolution': _string(nullable=True),
            'resolution_name': _string(nullable=True),
            'photo_count': {'type': 'integer', 'minimum': 0},
            'urgent': {'type': 'boolean'},
            'repair': _object({
                    'number': _string(),
                    'state': _string(),
                    'state_name': _string(),
                    'urgent': {'type': 'boolean'},
                    'deadline': DATETIME_NULL,
                    'overdue': {'type': 'boolean'},
                    'done_at': DATETIME_NULL,
                    }, nullable=True),
            }),
    'RatingInput': {
        'type': 'object',
        'properties': {
            'elevator': _string(maxLength=64),
            'score_maintenance': {'type': 'integer', 'minimum': 1,
                'maximum': 5},
            'score_user_unit': {'type': 'integer', 'minimum': 1,
                'maximum': 5},
            'comment': _string(maxLength=COMMENT_MAX),
            },
        'required': ['elevator', 'score_maintenance', 'score_user_unit'],
        'additionalProperties': False,
        },
    'Rating': _object({
            'elevator': _string(),
            'score_maintenance': {'type': 'integer'},
            'score_user_unit': {'type': 'integer'},
            }),
    'ArticleSummary': _object({
            'id': {'type': 'integer'},
            'title': _string(),
            'category': _string(),
            'category_name': _string(),
            'summary': _string(nullable=True),
            'published_date': DATE_NULL,
            }),
    'Article': _object({
            'id': {'type': 'integer'},
            'title': _string(),
            'category': _string(),
            'category_name': _string(),
            'summary': _string(nullable=True),
            'published_date': DATE_NULL,
            'body': _string(),
            }),
    'Units': _object({
            'items': {'type': 'array', 'items': _object({
                        'name': _string(),
                        'public_phone': _string(nullable=True),
                        'elevators': {'type': 'integer', 'minimum': 0},
                        'grade': _string(nullable=True,
                            enum=['A', 'B', 'C', 'D', None]),
                        'grade_year': {'type': 'integer', 'nullable': True},
                        'rating_count': {'type': 'integer', 'minimum': 0},
                        'rating_maintenance': {'type': 'number',
                            'nullable': True},
                        })},
            }),
    }


def _error(description):
    return {
        'description': description,
        'content': {'application/json': {'schema': _ref('Error')}},
        }


def _ok(description, schema):
    return {
        'description': description,
        'content': {'application/json': {'schema': _ref(schema)}},
        }


TOO_MANY = _error("Rate limit reached (see Retry-After)")
CODE = {
    'name': 'code', 'in': 'path', 'required': True,
    'description': "Rescue code (digits) or public token of the elevator",
    'schema': {'type': 'string', 'minLength': 1, 'maxLength': 64},
    }
LANG = {
    'name': 'lang', 'in': 'query', 'required': False,
    'description': "zh_CN (default) or en",
    'schema': {'type': 'string', 'enum': ['zh_CN', 'en']},
    }

PATHS = {
    '/elevators/{code}': {'get': {
            'operationId': 'getElevator',
            'summary': "Public card of an elevator",
            'parameters': [CODE, LANG],
            'responses': {
                '200': _ok("Published fields of the elevator", 'Elevator'),
                '404': _error("No elevator with this code"),
                '429': TOO_MANY,
                },
            }},
    '/elevators/{code}/maintenance': {'get': {
            'operationId': 'getMaintenance',
            'summary': "Recent finished maintenance and repair orders of "
            "an elevator",
            'parameters': [CODE, LANG],
            'responses': {
                '200': _ok("Newest first, at most 10", 'MaintenanceList'),
                '404': _error("No elevator with this code"),
                '429': TOO_MANY,
                },
            }},
    '/feedback': {'post': {
            'operationId': 'submitFeedback',
            'summary': "Complaint, fault report, rescue request or message",
            'description': "Trapped? Call the hotline (96196) first. A rescue "
            "request also opens a 96196 rescue ticket where the rescue "
            "service is installed.",
            'parameters': [LANG],
            'requestBody': {
                'required': True,
                'content': {'application/json': {
                        'schema': _ref('FeedbackInput')}},
                },
            'responses': {
                '201': _ok("Received; follow it with the number and the "
                    "last four digits of the phone", 'Feedback'),
                '400': _error("Body is not a JSON object"),
                '413': _error("Body too large"),
                '422': _error("A field is missing or invalid"),
                '429': TOO_MANY,
                },
            }},
    '/feedback/{number}': {'get': {
            'operationId': 'followFeedback',
            'summary': "Follow a submission",
            'parameters': [
                {'name': 'number', 'in': 'path', 'required': True,
                    'schema': {'type': 'string', 'minLength': 1,
                        'maxLength': 32}},
                {'name': 'phone_last4', 'in': 'query', 'required': True,
                    'schema': {'type': 'string', 'pattern': '^[0-9]{4}$'}},
                LANG,
                ],
            'responses': {
                '200': _ok("State and reply", 'Feedback'),
                '404': _error("Unknown number or wrong digits"),
                '429': TOO_MANY,
                },
            }},
    '/ratings': {'post': {
            'operationId': 'rate',
            'summary': "Rate the maintenance and the user unit (1-5 stars)",
            'parameters': [LANG],
            'requestBody': {
                'required': True,
                'content': {'application/json': {
                        'schema': _ref('RatingInput')}},
                },
            'responses': {
                '201': _ok("Recorded", 'Rating'),
                '400': _error("Body is not a JSON object"),
                '413': _error("Body too large"),
                '422': _error("A field is missing or invalid"),
                '429': _error("Rated this elevator recently, or rate limit"),
                },
            }},
    '/articles': {'get': {
            'operationId': 'listArticles',
            'summary': "Published safety articles",
            'parameters': [LANG],
            'responses': {
                '200': {'description': "Articles",
                    'content': {'application/json': {'schema': _object({
                                    'items': {'type': 'array',
                                        'items': _ref('ArticleSummary')},
                                    })}}},
                '429': TOO_MANY,
                },
            }},
    '/articles/{id}': {'get': {
            'operationId': 'getArticle',
            'summary': "A published article",
            'parameters': [
                {'name': 'id', 'in': 'path', 'required': True,
                    'schema': {'type': 'integer', 'minimum': 0,
                        'maximum': 2147483647}},
                LANG,
                ],
            'responses': {
                '200': _ok("The article", 'Article'),
                '404': _error("No published article with this id"),
                '429': TOO_MANY,
                },
            }},
    '/units': {'get': {
            'operationId': 'listUnits',
            'summary': "Maintenance units with their published credit grade",
            'parameters': [LANG],
            'responses': {
                '200': _ok("Units", 'Units'),
                '429': TOO_MANY,
                },
            }},
    }


def openapi(database_name):
    return {
        'openapi': '3.0.3',
        'info': {
            'title': "Putian elevator public supervision API",
            'version': '1.0.0',
            'description': "Public query of elevators by rescue code or "
            "QR token, complaints, fault reports, rescue requests, ratings, "
            "safety articles and the maintenance units' credit grades. "
            "Only published fields are returned; no personal data.",
            },
        'servers': [{'url': f'/{database_name}/elevator/public/v1'}],
        'paths': copy.deepcopy(PATHS),
        'components': {'schemas': copy.deepcopy(SCHEMAS)},
        }
