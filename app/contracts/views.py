"""Routes for technology contracts: /contracts."""

from fastapi import APIRouter

from app.contracts import service
from app.contracts.schemas import ContractCreate, ContractRead
from app.dependencies import PrincipalDep, SessionDep
from app.schemas import Id

router = APIRouter(prefix="/contracts", tags=["contracts"])


@router.post("", response_model=ContractRead, status_code=201, summary="Record a signed technology contract (技术合同)")
def record_contract(data: ContractCreate, session: SessionDep, principal: PrincipalDep):
    return service.record(session, data=data, actor=principal)


@router.get("", response_model=list[ContractRead], summary="The contracts the caller may see, newest first")
def list_contracts(session: SessionDep, principal: PrincipalDep):
    return service.get_all(session, actor=principal)


@router.get("/{contract_id}", response_model=ContractRead, summary="One contract")
def get_contract(contract_id: Id, session: SessionDep, principal: PrincipalDep):
    return service.get_visible_or_raise(session, contract_id=contract_id, actor=principal)
