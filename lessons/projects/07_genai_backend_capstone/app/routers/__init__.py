"""The API's routes, one APIRouter per resource; app/main.py includes each of them.

    ops.py             GET /health, GET /ready                          (operations)
    chat.py            POST /v1/chat, POST /v1/chat/stream              (chat)
    conversations.py   /v1/conversations and their messages             (conversations)
    account.py         GET /v1/models, GET /v1/usage                    (account)
"""
