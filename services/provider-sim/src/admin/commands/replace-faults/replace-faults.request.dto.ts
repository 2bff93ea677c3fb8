import { zodDto } from '@conveyor/http';
import { putFaultsRequest } from '../../../faults/fault.model';

/** Body of `PUT /_admin/faults`: the whole set of faults, by route; it replaces the previous set. */
export class PutFaultsBody extends zodDto(putFaultsRequest) {}
