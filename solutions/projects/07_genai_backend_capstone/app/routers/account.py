"""Account: the caller's own view of the service, the models it may ask for and its usage."""

from fastapi import APIRouter

from app.auth import CurrentUser
from app.dependencies import Meter, Models
from app.docs import AUTHED, error_responses
from app.models import ModelInfo, ModelList, UsageReport
from app.models_config import FALLBACKS

router = APIRouter(tags=["account"])


@router.get(
    "/v1/models",
    response_model=ModelList,
    responses=error_responses(*AUTHED),
    summary="The models you can ask for",
)
async def list_models(user: CurrentUser, models: Models) -> ModelList:
    """Every configured model, with its provider, its LiteLLM name and its fallbacks."""
    return ModelList(
        data=[
            ModelInfo(
                id=m.name,
                provider=m.provider,
                litellm_model=m.litellm_model,
                fallbacks=[f for f in FALLBACKS.get(m.name, []) if f in models],
            )
            for m in models.values()
        ]
    )


@router.get(
    "/v1/usage",
    response_model=UsageReport,
    responses=error_responses(*AUTHED),
    summary="Your model calls and tokens so far",
)
async def usage(user: CurrentUser, meter: Meter) -> UsageReport:
    """Totals over POST /v1/chat, /v1/chat/stream and conversation messages, in every process."""
    requests, tokens = await meter.totals(user.sub)
    return UsageReport(user=user.sub, tier=user.tier, requests=requests, usage=tokens)
