import { CurrentUser, type AuthUser } from '@conveyor/auth';
import { ApiProblems } from '@conveyor/http';
import { Controller, Delete, Param, Put } from '@nestjs/common';
import { ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { productIdParam } from '../../engagement.dto';
import { LikeStateResponse, type LikeState } from './likes.dto';
import { LikesService } from './likes.service';

/** The caller's like of a product (the user is the token's subject); idempotent both ways. */
@ApiTags('likes')
@Controller('products/:id/likes')
export class LikesHttpController {
  constructor(private readonly likes: LikesService) {}

  @Put()
  @ApiOkResponse({ type: LikeStateResponse, description: 'Liked (once, however often asked)' })
  @ApiProblems({ not_found: 'SEARCH.PRODUCT_NOT_FOUND: no listed product with this id', unavailable: 'SEARCH.LIKES_BUSY: a burst on this product; retry' })
  like(@Param('id') id: string, @CurrentUser() user: AuthUser): Promise<LikeState> {
    return this.likes.like(productIdParam(id), user.id);
  }

  @Delete()
  @ApiOkResponse({ type: LikeStateResponse, description: 'Not liked (any more)' })
  @ApiProblems({ not_found: 'SEARCH.PRODUCT_NOT_FOUND: no product with this id', unavailable: 'SEARCH.LIKES_BUSY: a burst on this product; retry' })
  unlike(@Param('id') id: string, @CurrentUser() user: AuthUser): Promise<LikeState> {
    return this.likes.unlike(productIdParam(id), user.id);
  }
}
