import { Module } from '@nestjs/common';
import { VerificationStore } from './verification-store';
import { VerificationsController } from './verifications.controller';
import { VerificationsService } from './verifications.service';

@Module({ controllers: [VerificationsController], providers: [VerificationStore, VerificationsService] })
export class VerificationsModule {}
